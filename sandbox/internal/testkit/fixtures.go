package testkit

// The hosts an integrator's code calls; the sandboxtest client sends both to the sandbox.
const (
	APIHost = "https://api.weixin.qq.com"
	MPHost  = "https://mp.weixin.qq.com"
)

// The WeChat accounts of every fresh or reset sandbox (fixtures/wechat.yaml).
const (
	// ServiceAppID is 晋城市民服务号, a verified government service account that owns the settled
	// City Service 晋城市民服务.
	ServiceAppID  = "wx5a1d0c0e00000001"
	ServiceSecret = "5a1d0c0e5a1d0c0e5a1d0c0e00000001"
	// MiniAppID is 晋城便民服务小程序, a released government Mini Program.
	MiniAppID  = "wx5a1d0c0e00000002"
	MiniSecret = "5a1d0c0e5a1d0c0e5a1d0c0e00000002"
	// SubscriptionAppID is 城市生活资讯订阅号, a media subscription account that owns a City
	// Service without a homepage.
	SubscriptionAppID  = "wx5a1d0c0e00000003"
	SubscriptionSecret = "5a1d0c0e5a1d0c0e5a1d0c0e00000003"
	// PersonalMiniAppID is 个人测试小程序, a test-tier Mini Program with a personal subject; it owns
	// no City Service.
	PersonalMiniAppID  = "wx5a1d0c0e00000004"
	PersonalMiniSecret = "5a1d0c0e5a1d0c0e5a1d0c0e00000004"
)

// The Jincheng world of every fresh or reset sandbox (fixtures/jincheng.yaml).
const (
	JinchengVendor        = "demo-vendor"
	JinchengPassword      = "demo-password-2020"
	JinchengOtherVendor   = "other-vendor"
	JinchengOtherPassword = "other-password-2020"

	// JinchengAppID is the demo vendor's approved 身份信息 (IDENTITY) application.
	JinchengAppID        = "APP90000001"
	JinchengAppCode      = "JLB9000000001"
	JinchengAppSecret    = "jlb-demo-secret-0001-do-not-use-in-production"
	JinchengSMSTemplate  = "SMS_900001"
	JinchengOnline       = "S90000001" // 公积金提取, ONLINE
	JinchengTesting      = "S90000002" // 公积金查询, TESTING
	JinchengOnlineModule = "M900000000001"

	// JinchengOtherAppID is the other vendor's approved 实名认证信息 (REALNAME) application.
	JinchengOtherAppID     = "APP90000002"
	JinchengOtherAppCode   = "JLB9000000002"
	JinchengOtherAppSecret = "jlb-other-secret-0002-do-not-use-in-production"
	JinchengOtherTesting   = "S90000003" // the other vendor's, TESTING
	JinchengOtherModule    = "M900000000003"

	// Testers: the first two of the demo app, the third of the other app.
	JinchengTester      = "13835600001"
	JinchengTester2     = "13935600002"
	JinchengOtherTester = "15035600003"
)
