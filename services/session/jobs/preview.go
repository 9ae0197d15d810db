package jobs

import "strings"

// Preview is text cut to at most MaxPreviewRunes characters (Unicode code
// points), never inside a UTF-8 sequence; invalid bytes become U+FFFD first.
func Preview(text string) string {
	text = strings.ToValidUTF8(text, "\uFFFD")
	n := 0
	for i := range text {
		if n == MaxPreviewRunes {
			return text[:i]
		}
		n++
	}
	return text
}
