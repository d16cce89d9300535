package audit

// EventSummary is an event as one line of a report: who caused it, what it
// did, by which program, and the result, each made safe to show.
type EventSummary struct {
	Who, What, Program, Result string
	// On is the paths the event touched, each made safe as in the text report.
	On string
}

// Summary returns the fields the text report shows for e.
func (e *Event) Summary() EventSummary {
	return EventSummary{Who: e.who(), What: e.what(), Program: e.program(), Result: e.result(), On: e.pathText()}
}
