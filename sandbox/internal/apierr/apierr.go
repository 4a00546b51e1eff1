// Package apierr defines the sandbox's error kinds and the Error type that every handler returns.
// It knows nothing of HTTP: each platform has one writer that renders an Error in its envelope
// (WeChat's errcode/errmsg, Jincheng's success/errorCode, the control plane's error object).
package apierr

import (
	"errors"
	"fmt"
)

// Kind classifies an error independently of any platform's codes.
type Kind int

// The error kinds. A platform maps each to its own default code when an Error carries none.
const (
	Internal        Kind = iota // a bug or an unexpected failure
	Invalid                     // malformed or out-of-range input
	Unauthenticated             // missing or wrong credentials
	Expired                     // credentials or artefacts past their lifetime
	Forbidden                   // authenticated, but not allowed
	NotFound                    // no such resource
	Conflict                    // illegal state transition or duplicate
	QuotaExceeded               // a rate or volume limit
	Unavailable                 // an injected or simulated outage
)

var kindNames = [...]string{"internal", "invalid", "unauthenticated", "expired", "forbidden", "not_found", "conflict", "quota_exceeded", "unavailable"}

// String names the kind in lower case.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Cause refines Invalid errors that come from request validation, so a platform can map each to
// its documented code (WeChat: empty body 44002, bad JSON 47001, oversized 45002).
type Cause int

// The validation causes.
const (
	CauseNone          Cause = iota
	CauseBodyEmpty           // no request body where one is required
	CauseBodyMalformed       // the body is not valid JSON
	CauseBodyTooLarge        // the body exceeds the size limit
	CauseWrongType           // a field has the wrong JSON type
	CauseMissing             // a required field or parameter is absent
	CauseOutOfRange          // a value breaks a schema rule (range, length, enum, pattern)
	CauseWrongMethod         // the HTTP method is not the one the API takes
)

// Error is the one error type handlers return. Code and Name are the platform's own code
// (numeric for WeChat, symbolic for Jincheng and the control plane); when both are zero the
// platform derives one from Kind. Reason is the precise explanation recorded in the journal;
// Message, when set, replaces the platform's standard message for the code.
type Error struct {
	Kind    Kind
	Cause   Cause
	Code    int
	Name    string
	Message string
	Reason  string
	// Field names the parameter or JSON field a validation error is about, when known.
	Field string
	// Status overrides the HTTP status for platforms whose envelope uses statuses.
	Status int
}

// Error implements error.
func (e *Error) Error() string {
	switch {
	case e.Code != 0 && e.Name != "":
		return fmt.Sprintf("%s %d %s: %s", e.Kind, e.Code, e.Name, e.Reason)
	case e.Code != 0:
		return fmt.Sprintf("%s %d: %s", e.Kind, e.Code, e.Reason)
	case e.Name != "":
		return fmt.Sprintf("%s %s: %s", e.Kind, e.Name, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.Kind, e.Reason)
}

// New returns an Error of the given kind and numeric code.
func New(kind Kind, code int, reason string) *Error {
	return &Error{Kind: kind, Code: code, Reason: reason}
}

// Newf is New with a formatted reason.
func Newf(kind Kind, code int, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Reason: fmt.Sprintf(format, args...)}
}

// Named returns an Error with a symbolic code and an HTTP status.
func Named(kind Kind, name string, status int, reason string) *Error {
	return &Error{Kind: kind, Name: name, Status: status, Reason: reason}
}

// As returns err as an *Error, or nil when it is not one.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// From returns err as an *Error, wrapping any other error as Internal.
func From(err error) *Error {
	if err == nil {
		return nil
	}
	if e := As(err); e != nil {
		return e
	}
	return &Error{Kind: Internal, Reason: err.Error()}
}
