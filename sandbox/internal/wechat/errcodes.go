package wechat

// errmsgTables are read in order: the codes every API shares, then those of one API family
// (kept here because the renderer, which is the core's, must know every family's message).
// They are read-only after start.
var errmsgTables = []map[int]string{commonErrmsgs, reviewErrmsgs, componentErrmsgs, qrjumpErrmsgs, chargeErrmsgs}

// commonErrmsgs is WeChat's message per errcode, as emitted before " rid: ". Each keeps the upstream
// punctuation: some end in a comma ("invalid appsecret,"), some are empty. Codes without an
// observed English string carry a plausible one and are marked invented in the package doc.
var commonErrmsgs = map[int]string{
	-1:    "system error",
	0:     "ok",
	40001: "invalid credential, access_token is invalid or not latest",
	40002: "invalid grant_type",
	40003: "invalid openid",
	40004: "invalid media type",
	40005: "invalid file type",
	40007: "invalid media_id",
	40008: "invalid message type",
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
	41005: "media data missing",
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
	45015: "response out of time limit or subscription is canceled",
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

// reviewErrmsgs are the review family's codes. The English texts of the negative codes are
// invented (the documentation gives Chinese meanings only).
var reviewErrmsgs = map[int]string{
	-10001: "invalid parameter",
	-10003: "parameters do not match",
	-10007: "no permission to call this api",
	-10008: "service error",
	-10403: "no permission on this comment",
	10000:  "invalid request",
}

// componentErrmsgs are the third-party platform's codes (reference section 9.3).
var componentErrmsgs = map[int]string{
	40170: "args count exceed count limit",
	61003: "component is not authorized by this account",
	61005: "component ticket is expired",
	61006: "component ticket is invalid",
	61009: "code is invalid",
	61010: "code is expired",
	61011: "invalid component",
	61014: "must use component token for component api",
	61015: "must use biz account token for not component api",
	61023: "refresh_token is invalid",
}

// qrjumpErrmsgs are the family's messages. 85066, 85068, 85069, 85072 and 85075 were seen or
// come from an SDK that copied the official tables; 85076 and 886000 were observed empty; the
// others have no public English text and are invented.
var qrjumpErrmsgs = map[int]string{
	85066:  "illegal prefix",
	85068:  "test url is not the sub prefix",
	85069:  "check confirm file fail",
	85070:  "url is in blacklist",
	85071:  "prefix already exists",
	85072:  "prefix owned by other",
	85073:  "rule quota limit",
	85074:  "miniprogram has not been released",
	85075:  "can not access",
	85076:  "",
	85095:  "data abnormal, please delete and re-add",
	886000: "",
	886001: "system busy, please retry",
}

// chargeErrmsgs are the paid-capability APIs' codes. "invalid params" was seen; the English texts
// of the others are invented (the documentation gives Chinese meanings only).
var chargeErrmsgs = map[int]string{
	10120002: "invalid params",
	10120700: "invalid spuId",
	10122000: "no recent usage data",
}
