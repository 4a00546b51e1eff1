package sandbox

// The Go twins return and take types of this package rather than the internal packages' own,
// so that go doc shows every field a caller reads or sets. Each mirrors one internal type field
// for field, in the same order and with the same JSON tags, so a value encodes exactly as the
// control plane's answer for the same verb does; TestMirrorsMatch checks every pair. The
// conversions below copy at the boundary.

// convertSlice converts each element of in, keeping a nil slice nil and an empty one empty, so
// that JSON renders null and [] as the internal value would.
func convertSlice[In, Out any](in []In, convert func(In) Out) []Out {
	if in == nil {
		return nil
	}
	out := make([]Out, len(in))
	for i, v := range in {
		out[i] = convert(v)
	}
	return out
}

// convertPtr converts *in, keeping nil nil.
func convertPtr[In, Out any](in *In, convert func(In) Out) *Out {
	if in == nil {
		return nil
	}
	out := convert(*in)
	return &out
}
