package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/citysandbox/citysandbox/sandbox/internal/jsonenc"
	"github.com/citysandbox/citysandbox/sandbox/internal/quota"
)

// The operation index: what a sandbox needs of its documents to route and admit requests — each
// operation's id, method, path and x-sandbox extensions — written out by Index and read back by
// LoadIndexed without parsing the documents. Parsing the built-in documents with kin-openapi is
// most of a sandbox's start-up (tens of milliseconds); with the index the sandbox is wired and
// serving while the documents parse in the background, and the first request that needs one
// (to validate a request or a response) waits for it. An operation that declares no security,
// parameter or body admits every request without its document, which is how the health check
// answers before the parse is done.
//
// The built-in index is openapi/operations.json; TestOperationIndexIsCurrent fails when it
// no longer matches the documents (go test ./sandbox/internal/spec -run
// TestOperationIndexIsCurrent -update rewrites it), and the background parse checks it again.

// indexFile is the index as stored.
type indexFile struct {
	Documents []indexDocument `json:"documents"`
}

// indexDocument is one document of the index: the file is Name + ".yaml".
type indexDocument struct {
	Name       string           `json:"name"`
	Platform   string           `json:"platform"`
	Operations []indexOperation `json:"operations"`
}

// indexOperation is an Operation's decoded fields.
type indexOperation struct {
	ID              string       `json:"id"`
	Method          string       `json:"method"`
	Path            string       `json:"path"`
	Summary         string       `json:"summary,omitempty"`
	Security        []string     `json:"security,omitempty"`
	Quota           quota.Limits `json:"quota,omitzero"`
	AccountTypes    []string     `json:"account_types,omitempty"`
	PermissionSets  []int        `json:"permission_sets,omitempty"`
	InvalidCode     int          `json:"invalid_code,omitempty"`
	Errcodes        []int        `json:"errcodes,omitempty"`
	ErrmsgHintCodes []int        `json:"errmsg_hint_codes,omitempty"`
	ErrorNames      []string     `json:"error_names,omitempty"`
	BodyRequired    bool         `json:"body_required,omitempty"`
	Page            bool         `json:"page,omitempty"`
	AcceptsAll      bool         `json:"accepts_all,omitempty"`
}

func indexOf(op *Operation, acceptsAll bool) indexOperation {
	return indexOperation{
		ID: op.ID, Method: op.Method, Path: op.Path, Summary: op.Summary, Security: op.Security,
		Quota: op.Quota, AccountTypes: op.AccountTypes, PermissionSets: op.PermissionSets,
		InvalidCode: op.InvalidCode, Errcodes: op.Errcodes, ErrmsgHintCodes: op.ErrmsgHintCodes,
		ErrorNames: op.ErrorNames, BodyRequired: op.BodyRequired, Page: op.Page, AcceptsAll: acceptsAll,
	}
}

// acceptsEverything reports whether the operation's fast checker admits every request: it
// declares no security scheme, no parameter and no body.
func (op *Operation) acceptsEverything() bool {
	fc := op.checker()
	return fc != nil && len(fc.schemes) == 0 && len(fc.params) == 0 && !fc.hasBody
}

// Index returns the operation index of s, for LoadIndexed: JSON, one line per operation.
func (s *Spec) Index() ([]byte, error) {
	var f indexFile
	for _, d := range s.Documents {
		id := indexDocument{Name: d.Name, Platform: d.Platform}
		for _, op := range s.Operations {
			if op.Document == d {
				id.Operations = append(id.Operations, indexOf(op, op.acceptsEverything()))
			}
		}
		f.Documents = append(f.Documents, id)
	}
	var b bytes.Buffer
	b.WriteString("{\"documents\": [\n")
	for i, d := range f.Documents {
		head, err := json.Marshal(indexDocument{Name: d.Name, Platform: d.Platform})
		if err != nil {
			return nil, fmt.Errorf("spec: index: %w", err)
		}
		// {"name":…,"platform":…,"operations":null} → open the list.
		b.Write(head[:len(head)-len("null}")])
		b.WriteString("[\n")
		for j, op := range d.Operations {
			line, err := json.Marshal(op)
			if err != nil {
				return nil, fmt.Errorf("spec: index: %w", err)
			}
			b.WriteString("  ")
			b.Write(line)
			if j < len(d.Operations)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString("]}")
		if i < len(f.Documents)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]}\n")
	return b.Bytes(), nil
}

// LoadIndexed is LoadValidated for documents whose operation index (see Index) is at hand: it
// returns at once, with the documents' raw bytes and every operation as the index says, and
// the documents parse in the background once Parse is called (or the first time something
// waits for one). Whatever needs a parsed document — request and response validation but for
// operations that take no input, Inputs, HasJSONBody, ClosedBody — waits for it; Wait waits for
// all of them. Once parsed, each document is checked against the index: a stale index (or a
// document that does not parse) makes Wait return an error and those methods panic, a defect
// of the build that the test suite catches.
func LoadIndexed(fsys fs.FS, index []byte) (*Spec, error) {
	var f indexFile
	// go-json-experiment's decoder reads the index in half the time of encoding/json's.
	if err := jsonenc.Unmarshal(index, &f); err != nil {
		return nil, fmt.Errorf("spec: operation index: %w", err)
	}
	s := &Spec{}
	seen := map[string]bool{}
	var todo []func()
	for _, id := range f.Documents {
		raw, err := fs.ReadFile(fsys, id.Name+".yaml")
		if err != nil {
			return nil, fmt.Errorf("spec: read %s.yaml: %w", id.Name, err)
		}
		d := &Document{Name: id.Name, Platform: id.Platform, Raw: raw, parsed: make(chan struct{})}
		ops := make([]*Operation, 0, len(id.Operations))
		for _, e := range id.Operations {
			if e.ID == "" || seen[e.ID] {
				return nil, fmt.Errorf("spec: operation index: operation id %q is empty or used twice", e.ID)
			}
			seen[e.ID] = true
			ops = append(ops, &Operation{
				ID: e.ID, Method: e.Method, Path: e.Path, Document: d, Summary: e.Summary,
				Security: e.Security, Quota: e.Quota, AccountTypes: e.AccountTypes,
				PermissionSets: e.PermissionSets, InvalidCode: e.InvalidCode, Errcodes: e.Errcodes,
				ErrmsgHintCodes: e.ErrmsgHintCodes, ErrorNames: e.ErrorNames,
				BodyRequired: e.BodyRequired, Page: e.Page, acceptsAll: e.AcceptsAll,
			})
		}
		s.Documents = append(s.Documents, d)
		s.Operations = append(s.Operations, ops...)
		todo = append(todo, func() { d.parseIndexed(id, ops) })
	}
	s.parse = sync.OnceFunc(func() {
		s.parsing.Store(true)
		// The documents parse side by side, but on one core fewer than there are: the caller
		// goes on with its work meanwhile, and should not wait for a core.
		queue := make(chan func(), len(todo))
		for _, parse := range todo {
			queue <- parse
		}
		close(queue)
		for range min(len(todo), max(1, runtime.GOMAXPROCS(0)-1)) {
			go func() {
				for parse := range queue {
					parse()
				}
			}()
		}
	})
	for _, d := range s.Documents {
		d.parse = s.parse
	}
	return s, nil
}

// Parse starts parsing the documents of a Spec from LoadIndexed in the background, if they are
// not parsing yet; it returns at once. A sandbox wires itself and loads its fixtures first, so
// that the parse, which allocates a great deal, does not slow its start (page faults and the
// heap's locks are shared by all the threads of a process), and then starts it.
func (s *Spec) Parse() {
	if s.parse != nil {
		s.parse()
	}
}

// parseIndexed parses d, checks that it has exactly the operations its index entry says, gives
// each its route, and closes d.parsed.
func (d *Document) parseIndexed(id indexDocument, ops []*Operation) {
	defer close(d.parsed)
	doc, err := openapi3.NewLoader().LoadFromData(d.Raw)
	if err != nil {
		d.err = fmt.Errorf("spec: parse %s.yaml: %w", d.Name, err)
		return
	}
	parsed := &Document{Name: d.Name, Platform: d.Platform, Raw: d.Raw, doc: doc}
	if err := decodeExt(doc.Extensions, "x-sandbox-platform", &parsed.Platform); err != nil {
		d.err = fmt.Errorf("spec: %s.yaml: %w", d.Name, err)
		return
	}
	derived, err := operations(parsed)
	if err != nil {
		d.err = fmt.Errorf("spec: %s.yaml: %w", d.Name, err)
		return
	}
	if err := indexMatches(id, parsed, derived); err != nil {
		d.err = fmt.Errorf("spec: %s.yaml: the operation index is stale (go test ./sandbox/internal/spec -run TestOperationIndexIsCurrent -update): %w", d.Name, err)
		return
	}
	d.doc = doc
	for i, op := range ops {
		op.route = derived[i].route
	}
}

// indexMatches reports how the index entry of a document differs from the document parsed.
func indexMatches(id indexDocument, d *Document, derived []*Operation) error {
	if id.Platform != d.Platform {
		return fmt.Errorf("platform %q, the index says %q", d.Platform, id.Platform)
	}
	if len(derived) != len(id.Operations) {
		return fmt.Errorf("%d operations, the index has %d", len(derived), len(id.Operations))
	}
	for i, op := range derived {
		want := id.Operations[i]
		// Whether an operation admits everything is checked only where the index says so: that
		// is where a stale index would admit what the document refuses.
		accepts := want.AcceptsAll && op.acceptsEverything()
		got, err := json.Marshal(indexOf(op, accepts))
		if err != nil {
			return err
		}
		if w, _ := json.Marshal(want); !bytes.Equal(got, w) {
			return fmt.Errorf("operation %d is %s, the index says %s", i, got, w)
		}
	}
	return nil
}

// Wait blocks until every document of s is parsed and returns what went wrong, if anything. A
// Spec from Load or LoadValidated is parsed already.
func (s *Spec) Wait() error {
	s.Parse()
	var errs []error
	for _, d := range s.Documents {
		if d.parsed != nil {
			<-d.parsed
			errs = append(errs, d.err)
		}
	}
	return errors.Join(errs...)
}
