package htmlreport

import (
	_ "embed"
	"html/template"
	"strings"
	"sync"

	"github.com/rampart-sec/rampart/internal/check"
)

var (
	//go:embed page.css
	pageCSS string
	//go:embed fleet.js
	fleetJS string
	//go:embed fleet.html
	fleetHTML string
)

var funcs = template.FuncMap{
	"join": func(l []string) string { return strings.Join(l, ", ") },
	"st":   func(s check.Status) string { return string(statusLetter[s]) },
}

// The templates parse on first use: every rampart process links this
// package, few render a page.
var fleetTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("fleet").Funcs(funcs).Parse(fleetHTML))
})
