package sandbox

import (
	"io"

	"github.com/citysandbox/citysandbox/sandbox/internal/scenario"
)

// ContractReport summarises, per operation of the emulated platforms, what an integrator's code
// has exercised since the sandbox started or the report was last cleared
// (DELETE /_sandbox/contract); a reset keeps it.
type ContractReport struct {
	// Calls counts the requests to the platforms' operations.
	Calls int `json:"calls"`
	// OperationsCalled of OperationsTotal operations were called at least once.
	OperationsCalled int `json:"operations_called"`
	OperationsTotal  int `json:"operations_total"`
	// Operations are the operations, in the OpenAPI documents' order.
	Operations []ContractOperation `json:"operations"`
	// Unrouted counts requests to paths no operation serves.
	Unrouted []ContractUnroutedCalls `json:"unrouted"`
	// Leaks counts the requests that tried to reach the real platforms or carried production
	// credentials (Server.Leaks lists them): a CI job fails its run when it is not 0.
	Leaks int `json:"leaks"`
}

// ContractOperation is one operation's line in a contract report.
type ContractOperation struct {
	// Operation is the operationId; Platform, Method and Path say where it is served.
	Operation string `json:"operation"`
	Platform  string `json:"platform"`
	Method    string `json:"method"`
	Path      string `json:"path"`
	// Calls counts the requests, and Succeeded those answered with neither an errcode nor an
	// error status.
	Calls     int `json:"calls"`
	Succeeded int `json:"succeeded"`
	// ValidationFailures are the requests that failed spec validation, by precise reason.
	ValidationFailures []ContractValidationFailure `json:"validation_failures"`
	// Documented are the errcodes the operation's x-errcodes lists.
	Documented []int `json:"errcodes_documented"`
	// Received are the errcodes answered, and how often.
	Received []ContractErrcodeCount `json:"errcodes_received"`
	// NeverReceived are the documented errcodes never answered: the error paths the
	// integrator's code has not met.
	NeverReceived []int `json:"errcodes_never_received"`
	// Undocumented are received errcodes the operation's x-errcodes does not list.
	Undocumented []int `json:"errcodes_undocumented,omitempty"`
	// ErrorNames are the symbolic error codes answered (Jincheng's errorCode), and how often.
	ErrorNames []ContractErrorNameCount `json:"error_names_received,omitempty"`
}

// ContractValidationFailure is a validation failure's precise reason and how often it happened.
type ContractValidationFailure struct {
	Reason string `json:"reason"`
	Count  int    `json:"count"`
}

// ContractErrcodeCount is an errcode and how often it was answered.
type ContractErrcodeCount struct {
	Errcode int `json:"errcode"`
	Count   int `json:"count"`
}

// ContractErrorNameCount is a symbolic error code and how often it was answered.
type ContractErrorNameCount struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// ContractUnroutedCalls counts requests to a path no operation serves.
type ContractUnroutedCalls struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Count  int    `json:"count"`
}

func contractReportFrom(r scenario.Report) ContractReport {
	return ContractReport{
		Calls: r.Calls, OperationsCalled: r.OperationsCalled, OperationsTotal: r.OperationsTotal, Leaks: r.Leaks,
		Operations: convertSlice(r.Operations, func(o scenario.OperationReport) ContractOperation {
			return ContractOperation{
				Operation: o.Operation, Platform: o.Platform, Method: o.Method, Path: o.Path, Calls: o.Calls,
				Succeeded: o.Succeeded,
				ValidationFailures: convertSlice(o.ValidationFailures, func(c scenario.ReasonCount) ContractValidationFailure {
					return ContractValidationFailure{Reason: c.Reason, Count: c.Count}
				}),
				Documented: o.Documented,
				Received: convertSlice(o.Received, func(c scenario.CodeCount) ContractErrcodeCount {
					return ContractErrcodeCount{Errcode: c.Errcode, Count: c.Count}
				}),
				NeverReceived: o.NeverReceived, Undocumented: o.Undocumented,
				ErrorNames: convertSlice(o.ErrorNames, func(c scenario.NameCount) ContractErrorNameCount {
					return ContractErrorNameCount{Name: c.Name, Count: c.Count}
				}),
			}
		}),
		Unrouted: convertSlice(r.Unrouted, func(u scenario.UnroutedCalls) ContractUnroutedCalls {
			return ContractUnroutedCalls{Method: u.Method, Path: u.Path, Count: u.Count}
		}),
	}
}

func (r ContractReport) internal() scenario.Report {
	return scenario.Report{
		Calls: r.Calls, OperationsCalled: r.OperationsCalled, OperationsTotal: r.OperationsTotal, Leaks: r.Leaks,
		Operations: convertSlice(r.Operations, func(o ContractOperation) scenario.OperationReport {
			return scenario.OperationReport{
				Operation: o.Operation, Platform: o.Platform, Method: o.Method, Path: o.Path, Calls: o.Calls,
				Succeeded: o.Succeeded,
				ValidationFailures: convertSlice(o.ValidationFailures, func(c ContractValidationFailure) scenario.ReasonCount {
					return scenario.ReasonCount{Reason: c.Reason, Count: c.Count}
				}),
				Documented: o.Documented,
				Received: convertSlice(o.Received, func(c ContractErrcodeCount) scenario.CodeCount {
					return scenario.CodeCount{Errcode: c.Errcode, Count: c.Count}
				}),
				NeverReceived: o.NeverReceived, Undocumented: o.Undocumented,
				ErrorNames: convertSlice(o.ErrorNames, func(c ContractErrorNameCount) scenario.NameCount {
					return scenario.NameCount{Name: c.Name, Count: c.Count}
				}),
			}
		}),
		Unrouted: convertSlice(r.Unrouted, func(u ContractUnroutedCalls) scenario.UnroutedCalls {
			return scenario.UnroutedCalls{Method: u.Method, Path: u.Path, Count: u.Count}
		}),
	}
}

// Contract returns the contract report of every operation, as GET /_sandbox/contract answers
// it: per operation, calls made, requests that failed validation and why, and the documented
// errcodes received and never received.
func (s *Server) Contract() ContractReport { return contractReportFrom(s.contract.Report(false)) }

// Called returns the report without the operations never called, as
// GET /_sandbox/contract?called=true answers it; the totals stay.
func (r ContractReport) Called() ContractReport {
	out := r
	out.Operations = []ContractOperation{}
	for _, op := range r.Operations {
		if op.Calls > 0 {
			out.Operations = append(out.Operations, op)
		}
	}
	return out
}

// WriteText prints the report for people: one block per called operation, then the operations
// never called.
func (r ContractReport) WriteText(w io.Writer) error { return r.internal().WriteText(w) }
