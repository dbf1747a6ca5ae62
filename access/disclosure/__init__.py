"""Information-disclosure requests (依申请公开) under the Regulations on Open Government Information.

A party or interested party files a request on the public portal; the office answers within 20
working days of receipt (art. 33; the receipt day is not counted). One correction notice (补正)
may be sent within 7 working days of receipt, and the clock restarts when the correction arrives
(art. 30); no correction within the notice's period means the request is deemed withdrawn. Time
the third party takes to answer a consultation (15 working days, art. 32) is not counted. One
extension of up to 20 working days needs an archive manager's approval. The reply is one of the
types of art. 36; released records, or redacted derivatives of them (art. 37), are copied into
the release realm, where the applicant may see them for a limited time. State-secret records are
never released (art. 14).

Every step goes through the policy decision point and is ledgered in the caller's transaction;
the caller commits (a policy refusal is ledgered and committed at once, then raised as
`access.policy.Denied`). Bad input raises a `Refused` naming the field; an unknown request, or
one that is not the caller's, a `NotFound`; a step the request's state does not allow, a
`Conflict` (`errors` holds them all, each with a machine code).

Where things are:
  models       the tables: requests, their messages, released items; the statuses
  transitions  which step may move a request from which status to which (the one place it moves)
  deadlines    the working-day rules and the deadline arithmetic
  schemas      the choices an applicant or officer makes, and the views pages and the API get
  inputs       checks of what a user typed
  errors       every refusal, with its machine code and message
  texts        the Chinese (and English) text the workflows write for people to read
  steps        loading a request, deciding the policy and ledgering, shared by every step
  applicant_side  filing, reading, correction, withdrawal, opening a released item
  office_side  the queue, assignment, correction notice, consultation, extension, messages
  replies      the reply (答复) and the copies it puts into the release realm
  sweeps       deemed withdrawals when a correction lapses; stray release copies
  reminders    what officers and managers are reminded of
"""
