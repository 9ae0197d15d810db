// Package jsondepth bounds how deeply a JSON text nests objects and
// arrays, before anything parses it: a frame nesting thousands of levels
// would otherwise reach the recursion limits of decoders further on (the
// protobuf Struct of a runtime.hello's caps, the relay's decoder).
package jsondepth

// Exceeds reports whether data nests objects and arrays more than max
// levels deep. It scans bytes once, skipping strings (with escapes); it
// does not validate the JSON.
func Exceeds(data []byte, max int) bool {
	depth := 0
	inString, escaped := false, false
	for _, b := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inString = false
			}
		case b == '"':
			inString = true
		case b == '{' || b == '[':
			if depth++; depth > max {
				return true
			}
		case b == '}' || b == ']':
			depth--
		}
	}
	return false
}
