package tx

import "github.com/accretedb/accrete/edn"

// maxFormText bounds the EDN text an error message carries, so that a huge
// form does not make a huge error.
const maxFormText = 240

// formText renders v as EDN text for error messages.
func formText(v any) string {
	s := edn.String(v)
	if len(s) > maxFormText {
		s = s[:maxFormText] + "…"
	}
	return s
}
