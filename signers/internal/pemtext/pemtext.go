// Package pemtext repairs PEM text given inline.
package pemtext

import "strings"

// Normalize repairs the two ways a PEM commonly arrives mangled from an
// environment variable: line breaks as the two characters \n, and line
// breaks turned into spaces (the whole PEM on one line).
func Normalize(b []byte) []byte {
	s := string(b)
	if strings.Contains(s, `\n`) {
		s = strings.ReplaceAll(s, `\r\n`, "\n")
		s = strings.ReplaceAll(s, `\n`, "\n")
	}
	if i := strings.Index(s, "-----BEGIN "); i >= 0 {
		if j := strings.Index(s[i+11:], "-----"); j >= 0 {
			if end := i + 11 + j + 5; end < len(s) && s[end] != '\n' && s[end] != '\r' {
				s = s[:end] + "\n" + s[end:]
			}
		}
	}
	if i := strings.Index(s, "-----END "); i > 0 && s[i-1] != '\n' {
		s = s[:i] + "\n" + s[i:]
	}
	return []byte(s)
}
