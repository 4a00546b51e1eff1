package sandbox_test

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEShowsCodeThatRuns checks that each Go block of the README's embedding section is,
// byte for byte, a file that go test compiles and runs (a test and an Example with its output),
// so that the README cannot show code that does not build or does not do what it says.
func TestREADMEShowsCodeThatRuns(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const heading = "## Embedding and Go tests"
	files := []string{"sandboxtest/integration_example_test.go", "example_new_test.go"}
	blocks := goBlocks(section(string(readme), heading))
	if len(blocks) != len(files) {
		t.Fatalf("README section %q has %d Go blocks, want %d: %v", heading, len(blocks), len(files), files)
	}
	for i, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if blocks[i] != string(src) {
			n, readmeLine, fileLine := firstDifference(blocks[i], string(src))
			t.Errorf("README block %d is not sandbox/%s: line %d reads\n  %q in the README,\n  %q in the file", i+1, name, n, readmeLine, fileLine)
		}
	}
}

// section returns the text under heading, up to the next heading of the same level.
func section(doc, heading string) string {
	_, rest, ok := strings.Cut(doc, "\n"+heading+"\n")
	if !ok {
		return ""
	}
	if end := strings.Index(rest, "\n## "); end >= 0 {
		rest = rest[:end]
	}
	return rest
}

// goBlocks returns the contents of the ```go fenced blocks of text, each ending in a newline.
func goBlocks(text string) []string {
	var blocks []string
	var cur *strings.Builder
	for line := range strings.Lines(text) {
		switch {
		case cur == nil && strings.TrimRight(line, "\n") == "```go":
			cur = &strings.Builder{}
		case cur != nil && strings.TrimRight(line, "\n") == "```":
			blocks = append(blocks, cur.String())
			cur = nil
		case cur != nil:
			cur.WriteString(line)
		}
	}
	return blocks
}

// firstDifference returns the first line (counting from 1) at which a and b differ, and that line
// of each ("" past the end).
func firstDifference(a, b string) (int, string, string) {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range max(len(la), len(lb)) {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y || i >= len(la) || i >= len(lb) {
			return i + 1, x, y
		}
	}
	return 0, "", ""
}
