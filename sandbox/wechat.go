package sandbox

import "github.com/citysandbox/citysandbox/sandbox/internal/wechat"

// WeChatApp is a WeChat account in the sandbox.
type WeChatApp = wechat.App

// WeChatAppSpec says what a new WeChat app should be; what it leaves out is generated.
type WeChatAppSpec = wechat.AppSpec

// WeChat is the Go twin of the /_sandbox/wechat/ control verbs.
type WeChat struct{ p *wechat.Platform }

// WeChat returns the WeChat control verbs.
func (s *Server) WeChat() *WeChat { return &WeChat{s.wechat} }

// CreateApp creates an app, as POST /_sandbox/wechat/apps does.
func (w *WeChat) CreateApp(spec WeChatAppSpec) (*WeChatApp, error) { return w.p.CreateApp(spec) }

// App returns the app with appid, or nil.
func (w *WeChat) App(appid string) (*WeChatApp, error) { return w.p.LoadApp(appid) }

// FixtureApps returns the apps the fixtures define.
func (w *WeChat) FixtureApps() ([]WeChatApp, error) { return w.p.FixtureApps() }
