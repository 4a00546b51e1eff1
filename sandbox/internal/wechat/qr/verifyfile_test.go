package qr_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/citysandbox/citysandbox/sandbox"
	"github.com/citysandbox/citysandbox/sandbox/internal/testkit"
)

// fileServer is an integrator's web server that may serve the verification file.
type fileServer struct {
	*httptest.Server
	mu     sync.Mutex
	files  map[string]string // path → body; a missing path answers 404
	status int               // when set, every answer has it
	hits   []string
}

func newFileServer(t *testing.T) *fileServer {
	f := &fileServer{files: map[string]string{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.hits = append(f.hits, r.Host+r.URL.Path)
		body, ok := f.files[r.URL.Path]
		switch {
		case f.status != 0:
			w.WriteHeader(f.status)
		case !ok:
			http.NotFound(w, r)
		default:
			io.WriteString(w, body)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fileServer) addr() string { return strings.TrimPrefix(f.URL, "http://") }

func (f *fileServer) serve(path, body string, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files, f.status = map[string]string{}, status
	if path != "" {
		f.files[path] = body
	}
}

// TestVerificationFile: an ordinary-link rule on a mapped host is accepted only when the file
// qrcodejumpdownload hands out is served in the prefix's last directory; a missing file, a
// wrong body or another status answers 85069 and stores nothing.
func TestVerificationFile(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	mp := miniProgram(k)
	tok := k.AppToken(mp)
	files := newFileServer(t)
	if _, err := k.Srv.MapHost("bus.citytest.cn", files.addr()); err != nil {
		t.Fatal(err)
	}
	dl := k.Post("/cgi-bin/wxopen/qrcodejumpdownload", tok, `{}`)
	name, content := dl.Str("file_name"), dl.Str("file_content")
	const prefix = "https://bus.citytest.cn/stop/line"
	rule := ordinaryRule(prefix, "pages/stop/index", 3, 1)
	for _, tc := range []struct {
		name, path, body string
		status           int
	}{
		{"missing", "", "", 0},
		{"at the root instead of the last directory", "/" + name, content, 0},
		{"a wrong body", "/stop/" + name, "0123456789abcdef0123456789abcdef", 0},
		{"not 200", "/stop/" + name, content, http.StatusFound},
		{"a server error", "/stop/" + name, content, http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := k.For(t)
			files.serve(tc.path, tc.body, tc.status)
			k.UnchangedExcept([]string{"qrjump_file"}, func() { k.WantErrcode(k.Post(jumpAdd, tok, rule), 85069) })
		})
	}
	files.serve("/stop/"+name, content+"\n", 0)
	k.OK(jumpAdd, tok, rule)
	files.mu.Lock()
	last := files.hits[len(files.hits)-1]
	files.mu.Unlock()
	if last != "bus.citytest.cn/stop/"+name {
		t.Errorf("fetched %s, want bus.citytest.cn/stop/%s (the Host header of the prefix)", last, name)
	}
	// Modifying the rule does not fetch again; a prefix at the host's root looks at the root.
	files.serve("", "", 0)
	edit := ordinaryRule(prefix, "pages/stop/other", 3, 1)
	edit["is_edit"] = 1
	k.OK(jumpAdd, tok, edit)
	files.serve("/"+name, content, 0)
	k.OK(jumpAdd, tok, ordinaryRule("http://bus.citytest.cn", "pages/index/index", 3, 1))
	out := k.Control(http.MethodGet, "/_sandbox/requests?event=qrjump_file", nil)
	if reqs, _ := out.JSON["requests"].([]any); len(reqs) != 7 {
		t.Errorf("journal of fetches = %s, want 7", out)
	}
}

// TestVerificationFileUnmappedHost: a host nobody mapped is accepted unchecked, and the journal
// says so; the sandbox opens no connection to it. A Mini Program that requires the check is
// refused with 85069 instead.
func TestVerificationFileUnmappedHost(t *testing.T) {
	t.Parallel()
	k := testkit.New(t)
	mp := miniProgram(k)
	tok := k.AppToken(mp)
	k.OK(jumpAdd, tok, ordinaryRule("https://shop.citytest.cn/a/", "pages/a/index", 3, 1))
	out := k.Control(http.MethodGet, "/_sandbox/requests?path=/cgi-bin/wxopen/qrcodejumpadd", nil)
	reqs, _ := out.JSON["requests"].([]any)
	if len(reqs) != 1 || testkit.Dig(reqs[0], "reason") != "verification file not checked: host not mapped" {
		t.Errorf("journal = %s, want the reason", out)
	}
	released := true
	strict := k.App(sandbox.WeChatAppSpec{Type: "mini_program", Released: &released, QRJumpFileRequired: true})
	stok := k.AppToken(strict)
	k.Refused(jumpAdd, stok, ordinaryRule("https://shop.citytest.cn/b/", "pages/b/index", 3, 1), 85069)
	k.Refused(jumpAdd, stok, ordinaryRule("ftp://files.citytest.cn/b/", "pages/b/index", 3, 1), 85069)
	// The setting is the Mini Program's, changed with PATCH.
	if a := k.Control(http.MethodPatch, "/_sandbox/wechat/apps/"+strict.AppID, map[string]any{"qrjump_file_required": false}); a.Status != http.StatusOK || a.JSON["qrjump_file_required"] != nil {
		t.Fatalf("patch: %s", a)
	}
	k.OK(jumpAdd, stok, ordinaryRule("https://shop.citytest.cn/b/", "pages/b/index", 3, 1))
}
