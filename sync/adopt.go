package sync

// adopt closes the intents an interrupted run left open for the events res
// resolves, so that every change in the directory has its record (NT 8.2).
// An operation that ran before a crash and whose outcome was never written
// is not planned again (the directory has it): for a done event, it is
// recorded as found done, naming the operation and its intent; for a failed
// one, as not confirmed. It runs before the journal resolves the events,
// and the caller syncs the audit log in between.
func (e *Engine) adopt(pending []Entry, res []Resolution) error {
	open := e.audit.OpenIntents()
	if len(open) == 0 {
		return nil
	}
	type key struct{ source, id string }
	status := make(map[key]Resolution, len(res))
	bySeq := make(map[uint64]*Event, len(pending))
	for i := range pending {
		bySeq[pending[i].Seq] = &pending[i].Event
	}
	for _, r := range res {
		if ev := bySeq[r.Seq]; ev != nil {
			status[key{ev.Source, ev.ID}] = r
		}
	}
	for _, in := range open {
		r, ok := status[key{in.Source, in.EventID}]
		if !ok {
			continue // the event is still pending: a later run finishes the operation
		}
		rec := AuditRecord{
			Time: e.now(), Intent: in.Seq, UID: in.UID, DN: in.DN, EmployeeID: in.EmployeeID,
			EventID: in.EventID, Source: in.Source, Reason: in.Reason, Article: in.Article, RequestedBy: in.RequestedBy,
		}
		if r.Status == Done {
			rec.Action = in.Op
			rec.Detail = map[string]string{"adopted": "found done in the directory after the run that started it was interrupted"}
			if l := in.Detail["letter"]; l != "" {
				rec.Detail["letter"] = l
			}
		} else {
			rec.Action, rec.Op = "not_confirmed", in.Op
			rec.Detail = map[string]string{"adopted": "the run that started it was interrupted and the event was then refused: " + r.Reason}
		}
		if _, err := e.audit.Append(rec); err != nil {
			return err
		}
		e.log.Info().Str("op", in.Op).Str("uid", in.UID).Str("event_id", in.EventID).Uint64("intent", in.Seq).
			Msg("interrupted operation recorded from what the directory holds")
	}
	return e.audit.Sync()
}
