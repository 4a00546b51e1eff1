package control

import (
	"bytes"
	"html/template"
	"net/http"
	"sort"
	"strings"

	"github.com/citysandbox/citysandbox/sandbox/internal/endpoint"
)

// indexRoute is one operation in an index.
type indexRoute struct {
	Method    string `json:"method"`
	Path      string `json:"path"`
	Summary   string `json:"summary"`
	Operation string `json:"operation"`
}

// indexDocument is one OpenAPI document's routes.
type indexDocument struct {
	Name     string       `json:"name"`
	Title    string       `json:"title"`
	Platform string       `json:"platform"`
	Spec     string       `json:"spec"`
	Routes   []indexRoute `json:"routes"`
}

// index is what GET /_sandbox/ and GET /jincheng/ answer.
type index struct {
	Title     string            `json:"-"`
	Links     map[string]string `json:"links"`
	Documents []indexDocument   `json:"documents"`
}

// buildIndex lists the routes of the documents of the given platforms (all when none), in the
// documents' order and, within each, by path then method.
func (p *Plane) buildIndex(platforms ...string) index {
	out := index{Documents: []indexDocument{}}
	for _, d := range p.deps.Spec.Documents {
		if len(platforms) > 0 && !contains(platforms, d.Platform) {
			continue
		}
		doc := indexDocument{Name: d.Name, Title: d.Title, Platform: d.Platform, Spec: "/_sandbox/openapi/" + d.Name + ".yaml", Routes: []indexRoute{}}
		for _, op := range p.deps.Spec.Operations {
			if op.Document == d {
				doc.Routes = append(doc.Routes, indexRoute{Method: op.Method, Path: op.Path, Summary: op.Summary, Operation: op.ID})
			}
		}
		sort.SliceStable(doc.Routes, func(i, j int) bool {
			a, b := doc.Routes[i], doc.Routes[j]
			if a.Path != b.Path {
				return a.Path < b.Path
			}
			return a.Method < b.Method
		})
		out.Documents = append(out.Documents, doc)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// handleIndex answers GET /_sandbox/: every document's routes, and the links to the specs, the
// console and the health check.
func (p *Plane) handleIndex(c *endpoint.Call) (any, error) {
	ix := p.buildIndex()
	ix.Title = "citysandbox: everything it serves"
	ix.Links = map[string]string{
		"console": ConsolePath, "specs": "/_sandbox/openapi/", "health": "/_sandbox/health",
		"jincheng": "/jincheng/", "jincheng_app": "/jincheng/app/",
	}
	return answerIndex(c, ix), nil
}

// handleJinchengIndex answers GET /jincheng/: the Jincheng platform's routes, with links to its
// spec and the simulated 晋来办 app.
func (p *Plane) handleJinchengIndex(c *endpoint.Call) (any, error) {
	ix := p.buildIndex("jincheng")
	ix.Title = "citysandbox: the Jincheng 晋来办 platform"
	ix.Links = map[string]string{"app": "/jincheng/app/", "index": "/_sandbox/", "spec": "/_sandbox/openapi/jincheng.yaml"}
	return answerIndex(c, ix), nil
}

// answerIndex renders ix as HTML for a client that accepts it (a browser) and as JSON for any
// other (curl, jq).
func answerIndex(c *endpoint.Call, ix index) any {
	if !strings.Contains(c.Request().Header.Get("Accept"), "text/html") {
		return ix
	}
	var b bytes.Buffer
	if err := indexPage.Execute(&b, ix); err != nil {
		return ix
	}
	return endpoint.Raw{Status: http.StatusOK, ContentType: "text/html; charset=utf-8", Body: b.Bytes()}
}

var indexPage = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>body{font:15px system-ui,sans-serif;margin:2em;max-width:70em}td{padding:2px 10px;vertical-align:top}code{font-size:14px}.m{font-weight:600}</style></head>
<body><h1>{{.Title}}</h1>
<p>{{range $name, $url := .Links}}<a href="{{$url}}">{{$name}}</a> · {{end}}</p>
{{range .Documents}}<h2>{{.Title}}</h2><p><a href="{{.Spec}}">{{.Spec}}</a></p>
<table>{{range .Routes}}<tr><td class="m">{{.Method}}</td><td><code>{{.Path}}</code></td><td>{{.Summary}}</td></tr>{{end}}</table>
{{end}}</body></html>
`))
