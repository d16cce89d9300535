package htmlreport

import (
	_ "embed"
	"html/template"
	"io"
	"sync"
)

//go:embed simple.html
var simpleHTML string

var simpleTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("simple").Funcs(funcs).Parse(simpleHTML))
})

// simplePage is a report page without filters: cards, then sections of
// charts and a table.
type simplePage struct {
	Title    string
	Meta     []string
	Cards    []card
	Sections []section
	Style    template.CSS
}

type card struct {
	ID, Label, Class string
	Value            int
}

type section struct {
	ID, Heading, Note string
	Charts            []template.HTML
	Table             *table
}

type table struct {
	Head []string
	Rows [][]string
	More string // what was left out
}

func (p *simplePage) write(w io.Writer) error {
	p.Style = template.CSS(pageCSS)
	return simpleTmpl().Execute(w, p)
}
