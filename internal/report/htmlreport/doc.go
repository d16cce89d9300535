// Package htmlreport renders rampart's reports as one self-contained HTML
// page each: the CSS, the script and every chart are inline (charts are
// SVG drawn here in Go), and the page makes no network request. Host- and
// log-supplied text only ever reaches the page through html/template's
// contextual escaping.
//
// Fleet renders a verify run of one or many hosts: a host x check heatmap,
// filters (area, status, host, label), every finding grouped by check with
// the hosts it concerns, what each said, its evidence and both fixes, and
// the changes since a baseline highlighted. The page prints legibly
// (filters hidden, every finding expanded).
package htmlreport
