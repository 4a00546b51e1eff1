package wechat

// errmsgTables are read in order; each API family that has errcodes of its own keeps its table
// in its file and lists it here. They are read-only after start.
var errmsgTables = []map[int]string{commonErrmsgs, reviewErrmsgs, componentErrmsgs, qrjumpErrmsgs}

// commonErrmsgs is WeChat's message per errcode, as emitted before " rid: ". Each keeps the upstream
// punctuation: some end in a comma ("invalid appsecret,"), some are empty. Codes without an
// observed English string carry a plausible one and are marked invented in the package doc.
var commonErrmsgs = map[int]string{
	-1:    "system error",
	0:     "ok",
	40001: "invalid credential, access_token is invalid or not latest",
	40002: "invalid grant_type",
	40003: "invalid openid",
	40013: "invalid appid",
	40014: "invalid access_token",
	40029: "invalid code",
	40052: "invalid action name",
	40053: "invalid action info, please check document",
	40066: "invalid url",
	40097: "invalid args",
	40125: "invalid appsecret,",
	40164: "invalid ip, not in whitelist,",
	40166: "invalid appid",
	40243: "appsecret is frozen",
	41001: "access_token missing",
	41002: "appid missing",
	41004: "appsecret missing",
	41018: "missing component_appid",
	42001: "access_token expired",
	43001: "require GET method",
	43002: "require POST method",
	43003: "require https",
	44002: "empty post data",
	44990: "reach max api second frequence limit",
	45002: "content size out of limit",
	45009: "reach max api daily quota limit",
	45011: "api minute-quota reach limit mustslower retry next minute",
	47001: "data format error",
	48001: "api unauthorized,",
	48004: "api forbidden for irregularities",
	48006: "forbid to clear quota because of reaching the limit",
	50001: "user unauthorized",
	50002: "user limited",
	61004: "access clientip is not registered",
	61007: "api is unauthorized to component",
	76001: "rid not found",
	76002: "rid is error",
	76003: "could not query this rid,no permission",
	76021: "cgi_path not found, please check",
	76022: "could not use this cgi_path,no permission",
}

// Errmsg returns the message for an errcode, without the rid.
func Errmsg(code int) string {
	for _, t := range errmsgTables {
		if m, ok := t[code]; ok {
			return m
		}
	}
	return "system error"
}
