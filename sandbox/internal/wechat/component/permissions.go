package component

// Permission sets (权限集): the sets an account may grant a component, as the authorization
// page offers them, and which of them are mutually exclusive between components.

import (
	"slices"

	"github.com/citysandbox/citysandbox/sandbox/internal/wechat"
)

// permissionSet is one 权限集 an account may grant.
type permissionSet struct {
	ID        int
	Name      string
	Kind      string // TypeOfficialAccount or TypeMiniProgram
	Exclusive bool
}

// permissionSets are the sets the authorization page offers, by id (reference section 9.1).
var permissionSets = []permissionSet{
	{1, "消息管理", wechat.TypeOfficialAccount, false},
	{2, "用户管理", wechat.TypeOfficialAccount, false},
	{3, "账号服务", wechat.TypeOfficialAccount, false},
	{4, "网页服务", wechat.TypeOfficialAccount, true},
	{7, "群发与通知", wechat.TypeOfficialAccount, false},
	{11, "素材管理", wechat.TypeOfficialAccount, false},
	{15, "菜单管理", wechat.TypeOfficialAccount, false},
	{22, "城市服务", wechat.TypeOfficialAccount, false},
	{17, "获取小程序码", wechat.TypeMiniProgram, false},
	{18, "小程序开发与数据分析", wechat.TypeMiniProgram, true},
	{19, "小程序客服管理", wechat.TypeMiniProgram, false},
	{25, "开放平台账号管理", wechat.TypeMiniProgram, true},
	{76, "小程序违规与交易投诉管理", wechat.TypeMiniProgram, true},
	{105, "城市服务（小程序）", wechat.TypeMiniProgram, false},
	{151, "交易评价管理", wechat.TypeMiniProgram, false},
}

func findPermissionSet(id int) (permissionSet, bool) {
	i := slices.IndexFunc(permissionSets, func(s permissionSet) bool { return s.ID == id })
	if i < 0 {
		return permissionSet{}, false
	}
	return permissionSets[i], true
}

// offeredSets returns the sets the page offers an account kind, narrowed by category_id_list.
func offeredSets(kind string, categories []int) []permissionSet {
	var out []permissionSet
	for _, s := range permissionSets {
		if s.Kind == kind && (len(categories) == 0 || slices.Contains(categories, s.ID)) {
			out = append(out, s)
		}
	}
	return out
}
