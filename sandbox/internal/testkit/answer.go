package testkit

import (
	"fmt"
	"net/http"
	"slices"
)

// Answer is a response, read in full and decoded when it is JSON.
type Answer struct {
	// Method and URL are what was asked, for failure messages.
	Method, URL string
	Status      int
	Header      http.Header
	Raw         []byte
	// JSON is the decoded body when it is a JSON object; nil otherwise (an image, a page, an
	// empty body).
	JSON Object
}

// String describes the answer for a failure message: the request, the status and the body.
func (a Answer) String() string {
	return fmt.Sprintf("%s %s: %d %s", a.Method, a.URL, a.Status, a.Raw)
}

// Errcode is WeChat's errcode; 0 when the answer has none (a success, a token).
func (a Answer) Errcode() int { return int(a.JSON.Num("errcode")) }

// Errmsg is WeChat's errmsg.
func (a Answer) Errmsg() string { return a.JSON.Str("errmsg") }

// Str is a top-level string field ("" when absent or not a string).
func (a Answer) Str(key string) string { return a.JSON.Str(key) }

// Code is the symbolic error code of a Jincheng answer (errorCode) or of a control-plane answer
// (error.code); "" for a success.
func (a Answer) Code() string {
	if c, ok := a.JSON["errorCode"].(string); ok {
		return c
	}
	c, _ := a.JSON.Get("error", "code").(string)
	return c
}

// Data is the data object of a Jincheng envelope, or the whole body of any other JSON answer.
func (a Answer) Data() Object {
	if _, ok := a.JSON["success"]; ok {
		d, _ := a.JSON["data"].(map[string]any)
		return d
	}
	return a.JSON
}

// Object is a decoded JSON object.
type Object map[string]any

// Str is the string field key ("" when absent or not a string).
func (o Object) Str(key string) string {
	s, _ := o[key].(string)
	return s
}

// Num is the number field key (0 when absent or not a number).
func (o Object) Num(key string) float64 {
	f, _ := o[key].(float64)
	return f
}

// Get follows keys through nested objects: Get("quota", "used"). It is nil where the path
// leaves the objects.
func (o Object) Get(path ...string) any { return Dig(map[string]any(o), path...) }

// Keys returns the object's keys, sorted.
func (o Object) Keys() []string {
	ks := make([]string, 0, len(o))
	for k := range o {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Dig follows keys through nested JSON objects from v; it is nil where the path leaves them.
func Dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			if o, isObject := v.(Object); isObject {
				m = o
			} else {
				return nil
			}
		}
		v = m[p]
	}
	return v
}
