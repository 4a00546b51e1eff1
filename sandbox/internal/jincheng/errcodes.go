package jincheng

import (
	"net/http"

	"github.com/citysandbox/citysandbox/sandbox/internal/apierr"
)

// Error codes (reference §2.7, plus the portal's and the simulated app's own). Each has one HTTP
// status and one message.
const (
	codeMissingHeader    = "GW-MISSING-HEADER"
	codeInvalidAppCode   = "GW-INVALID-APPCODE"
	codeInvalidSignature = "GW-INVALID-SIGNATURE"
	codeClockSkew        = "GW-CLOCK-SKEW"
	codeNonceReplayed    = "GW-NONCE-REPLAYED"
	codeEnvForbidden     = "GW-ENV-FORBIDDEN"

	codeTicketNotFound = "SSO-TICKET-NOT-FOUND"
	codeTicketFormat   = "SSO-TICKET-FORMAT"
	codeTicketExpired  = "SSO-TICKET-EXPIRED"
	codeTicketUsed     = "SSO-TICKET-USED"
	codeTicketNotYours = "SSO-TICKET-NOT-YOURS"
	codeTokenNotFound  = "SSO-TOKEN-NOT-FOUND"
	codeTokenExpired   = "SSO-TOKEN-EXPIRED"
	codeTokenNotYours  = "SSO-TOKEN-NOT-YOURS"
	codeTokenFormat    = "SSO-TOKEN-FORMAT"
	codeServiceOffline = "SSO-SERVICE-OFFLINE"

	codeModuleNotYours      = "OPEN-MODULE-NOT-YOURS"
	codeSMSNotGranted       = "OPEN-SMS-NOT-GRANTED"
	codeTemplateNotApproved = "OPEN-TEMPLATE-NOT-APPROVED"
	codeTemplateParams      = "OPEN-TEMPLATE-PARAMS"
	codeUserUnknown         = "OPEN-USER-UNKNOWN"
	codeDuplicateBizID      = "OPEN-DUPLICATE-BIZ-ID"
	codeTodoState           = "OPEN-TODO-STATE"
	codeTodoNotFound        = "OPEN-TODO-NOT-FOUND"
	codeMessageNotFound     = "OPEN-MESSAGE-NOT-FOUND"
	codeURLNotAllowed       = "OPEN-URL-NOT-ALLOWED"
	codeRateLimited         = "OPEN-RATE-LIMITED"

	codeAdminState         = "ADMIN-STATE"
	codeURLNotHTTPS        = "ADMIN-URL-NOT-HTTPS"
	codeReportsMissing     = "ADMIN-REPORTS-MISSING"
	codeCallbackCode       = "ADMIN-CALLBACK-CODE-INVALID"
	codeUserInfoType       = "ADMIN-USERINFO-TYPE-INVALID"
	codeLoginFailed        = "ADMIN-LOGIN-FAILED"
	codeSessionInvalid     = "ADMIN-SESSION-INVALID"
	codeSessionExpired     = "ADMIN-SESSION-EXPIRED"
	codeAdminNotFound      = "ADMIN-NOT-FOUND"
	codeTesterExists       = "ADMIN-TESTER-EXISTS"
	codeVendorExists       = "ADMIN-VENDOR-EXISTS"
	codeNotTester          = "APP-NOT-TESTER"
	codeServiceUnavailable = "APP-SERVICE-UNAVAILABLE"
	codeCitizenNotFound    = "APP-CITIZEN-NOT-FOUND"
	codeCitizenExists      = "APP-CITIZEN-EXISTS"

	codeInvalidParameter = "INVALID-PARAMETER"
	codeNotFound         = "NOT-FOUND"
	codeMethodNotAllowed = "METHOD-NOT-ALLOWED"
	codeForbidden        = "FORBIDDEN"
	codeUnavailable      = "SERVICE-UNAVAILABLE"
	codeSystemError      = "SYSTEM-ERROR"
)

// codeStatus is each code's HTTP status (§2: 200 for business results).
var codeStatus = map[string]int{
	codeMissingHeader: 401, codeInvalidAppCode: 401, codeInvalidSignature: 401, codeClockSkew: 401,
	codeNonceReplayed: 401, codeEnvForbidden: 403,
	codeTicketNotFound: 200, codeTicketFormat: 200, codeTicketExpired: 200, codeTicketUsed: 200,
	codeTicketNotYours: 200, codeTokenNotFound: 200, codeTokenExpired: 200, codeTokenNotYours: 200,
	codeTokenFormat: 200, codeServiceOffline: 200,
	codeModuleNotYours: 403, codeSMSNotGranted: 403, codeTemplateNotApproved: 403, codeTemplateParams: 400,
	codeUserUnknown: 200, codeDuplicateBizID: 200, codeTodoState: 409, codeTodoNotFound: 404,
	codeMessageNotFound: 404, codeURLNotAllowed: 400, codeRateLimited: 429,
	codeAdminState: 409, codeURLNotHTTPS: 400, codeReportsMissing: 400, codeCallbackCode: 400,
	codeUserInfoType: 400, codeLoginFailed: 401, codeSessionInvalid: 401, codeSessionExpired: 401,
	codeAdminNotFound: 404, codeTesterExists: 409, codeVendorExists: 409,
	codeNotTester: 403, codeServiceUnavailable: 409, codeCitizenNotFound: 404, codeCitizenExists: 409,
	codeInvalidParameter: 400, codeNotFound: 404, codeMethodNotAllowed: 405, codeForbidden: 403,
	codeUnavailable: 503, codeSystemError: 500,
}

// codeMessages are the errorMsg texts: Chinese as the platform's users read it, then English.
var codeMessages = map[string]string{
	codeMissingHeader:       "缺少签名请求头 / signing header missing or malformed",
	codeInvalidAppCode:      "无效的appCode / invalid appCode",
	codeInvalidSignature:    "签名错误 / invalid signature",
	codeClockSkew:           "时间戳超出允许范围 / clock skew exceeded",
	codeNonceReplayed:       "nonce已使用 / nonce replayed",
	codeEnvForbidden:        "应用无已上架服务，不能调用正式环境 / production environment forbidden",
	codeTicketNotFound:      "票据不存在 / ticket not found",
	codeTicketFormat:        "票据格式错误 / malformed ticket",
	codeTicketExpired:       "票据已过期 / ticket expired",
	codeTicketUsed:          "票据已使用 / ticket already used",
	codeTicketNotYours:      "票据不属于该应用 / ticket belongs to another app",
	codeTokenNotFound:       "token不存在 / token not found",
	codeTokenExpired:        "token已过期 / token expired",
	codeTokenNotYours:       "token不属于该应用 / token belongs to another app",
	codeTokenFormat:         "token格式错误 / malformed token",
	codeServiceOffline:      "服务已下架 / service is offline",
	codeModuleNotYours:      "modulecode不属于该应用 / modulecode belongs to another app",
	codeSMSNotGranted:       "短信能力未授权 / SMS capability not granted",
	codeTemplateNotApproved: "短信模板未审核通过 / template not approved",
	codeTemplateParams:      "短信模板参数错误 / template parameters do not match",
	codeUserUnknown:         "用户未登录过该应用 / user never signed in to this app",
	codeDuplicateBizID:      "业务ID重复，返回原结果 / duplicate business id; original result returned",
	codeTodoState:           "待办状态不允许该操作 / to-do state does not allow this",
	codeTodoNotFound:        "待办不存在 / to-do not found",
	codeMessageNotFound:     "消息不存在 / message not found",
	codeURLNotAllowed:       "链接不在服务渠道地址下 / url not under the service's channel host",
	codeRateLimited:         "调用过于频繁 / rate limited",
	codeAdminState:          "当前状态不允许该操作 / illegal state transition",
	codeURLNotHTTPS:         "服务地址须使用https协议 / channel URL must be https",
	codeReportsMissing:      "缺少功能测试报告或安全测试报告 / test reports missing",
	codeCallbackCode:        "module_callback_code无效或重复 / module_callback_code invalid or duplicate",
	codeUserInfoType:        "获取用户信息类型无效 / user-info type invalid",
	codeLoginFailed:         "账号或密码错误 / wrong account or password",
	codeSessionInvalid:      "未登录或会话无效 / no valid session",
	codeSessionExpired:      "会话已过期 / session expired",
	codeAdminNotFound:       "资源不存在 / not found",
	codeTesterExists:        "测试人员已存在 / tester already registered",
	codeVendorExists:        "账号已存在 / account exists",
	codeNotTester:           "非测试人员不能在测试环境使用该服务 / only testers may launch in the test environment",
	codeServiceUnavailable:  "服务在该环境不可用 / service not available in this environment",
	codeCitizenNotFound:     "用户不存在 / citizen not found",
	codeCitizenExists:       "手机号已注册 / mobile already registered",
	codeInvalidParameter:    "参数错误 / invalid parameter",
	codeNotFound:            "接口不存在 / no such API",
	codeMethodNotAllowed:    "请求方法错误 / method not allowed",
	codeForbidden:           "无权限 / forbidden",
	codeUnavailable:         "服务不可用 / service unavailable",
	codeSystemError:         "系统错误 / system error",
}

func messageFor(code string) string {
	if m, ok := codeMessages[code]; ok {
		return m
	}
	return code
}

// kindOf classifies a code for the journal and for platforms that render by kind.
func kindOf(code string) apierr.Kind {
	switch codeStatus[code] {
	case http.StatusBadRequest:
		return apierr.Invalid
	case http.StatusUnauthorized:
		return apierr.Unauthenticated
	case http.StatusForbidden:
		return apierr.Forbidden
	case http.StatusNotFound:
		return apierr.NotFound
	case http.StatusConflict:
		return apierr.Conflict
	case http.StatusTooManyRequests:
		return apierr.QuotaExceeded
	}
	return apierr.Invalid
}

// named returns the error with the code, its status and a reason for the journal.
func named(code, reason string) *apierr.Error {
	return &apierr.Error{Kind: kindOf(code), Name: code, Status: codeStatus[code], Reason: reason}
}
