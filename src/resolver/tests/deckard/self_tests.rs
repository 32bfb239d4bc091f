//! The runner can fail: a wrong expectation, an unsupported option, an upstream query left
//! unanswered, or an answer nobody checked each fail the scenario.

use super::Sections;

fn run_text(text: &str) -> Result<(), String> {
    super::run_text(text, Sections::Full)
}

const CONFIG: &str = "forward-zone: name: \".\" forward-addr: 216.0.0.1\nCONFIG_END\n";

const RANGE: &str = "SCENARIO_BEGIN self test
RANGE_BEGIN 0 100
	ENTRY_BEGIN
	MATCH opcode qtype qname
	ADJUST copy_id
	REPLY QR RD RA NOERROR
	SECTION QUESTION
www.example.com. IN A
	SECTION ANSWER
www.example.com. IN A 10.20.30.40
	ENTRY_END
RANGE_END
STEP 1 QUERY
ENTRY_BEGIN
REPLY RD
SECTION QUESTION
www.example.com. IN A
ENTRY_END
";

fn scenario(config: &str, check: &str) -> String {
    format!("{config}{RANGE}STEP 2 CHECK_ANSWER\nENTRY_BEGIN\n{check}\nENTRY_END\nSCENARIO_END\n")
}

const RIGHT: &str = "MATCH all
REPLY QR RD RA NOERROR
SECTION QUESTION
www.example.com. IN A
SECTION ANSWER
www.example.com. IN A 10.20.30.40";

#[test]
fn the_right_answer_passes() {
    run_text(&scenario(CONFIG, RIGHT)).expect("passes");
}

#[test]
fn a_wrong_address_fails() {
    let wrong = RIGHT.replace("10.20.30.40", "10.20.30.41");
    let e = run_text(&scenario(CONFIG, &wrong)).expect_err("wrong answer");
    assert!(e.contains("answer"), "{e}");
}

#[test]
fn wrong_flags_or_rcode_fail_under_match_all() {
    let aa = RIGHT.replace("QR RD RA", "QR AA RD RA");
    let e = run_text(&scenario(CONFIG, &aa)).expect_err("AA is not set");
    assert!(e.contains("flags"), "{e}");
    let nx = RIGHT.replace("NOERROR", "NXDOMAIN");
    let e = run_text(&scenario(CONFIG, &nx)).expect_err("not NXDOMAIN");
    assert!(e.contains("rcode"), "{e}");
}

#[test]
fn a_missing_record_fails_but_not_without_match_all() {
    let missing = format!("{RIGHT}\nSECTION AUTHORITY\nexample.com. IN NS ns.example.com.");
    run_text(&scenario(CONFIG, &missing)).expect_err("no authority section comes");
    let loose = missing.replace("MATCH all", "MATCH opcode qname qtype");
    run_text(&scenario(CONFIG, &loose)).expect("only the question is compared");
}

#[test]
fn an_option_tern_cannot_honour_fails_the_scenario() {
    let config = format!("server:\n\toutbound-msg-retry: 1\n{CONFIG}");
    let e = run_text(&scenario(&config, RIGHT)).expect_err("unsupported");
    assert!(e.contains("outbound-msg-retry"), "{e}");
}

#[test]
fn an_unchecked_answer_fails_the_scenario() {
    let text = format!("{CONFIG}{RANGE}SCENARIO_END\n");
    let e = run_text(&text).expect_err("the answer was never checked");
    assert!(e.contains("unchecked"), "{e}");
}

#[test]
fn a_query_no_range_answers_waits_for_a_reply_step() {
    // Out of the range's step window: the query waits, and the REPLY step answers it.
    let late = RANGE.replace("RANGE_BEGIN 0 100", "RANGE_BEGIN 50 100");
    // The range's own entry, as the REPLY step's.
    let entry =
        &late[late.find("\tENTRY_BEGIN").expect("entry")..late.find("RANGE_END").expect("end")];
    let reply = format!("STEP 2 REPLY\n{entry}");
    let text = format!(
        "{CONFIG}{late}{reply}STEP 3 CHECK_ANSWER\nENTRY_BEGIN\n{RIGHT}\nENTRY_END\nSCENARIO_END\n"
    );
    run_text(&text).expect("answered by the REPLY step");
    // Without the REPLY step the query is still waiting when the answer is checked.
    let e = run_text(&scenario(CONFIG, RIGHT).replace("RANGE_BEGIN 0 100", "RANGE_BEGIN 50 100"))
        .expect_err("never answered");
    assert!(e.contains("no answer matches"), "{e}");
}

#[test]
fn a_reply_without_the_query_id_is_thrown_away() {
    let text = scenario(CONFIG, RIGHT).replace("ADJUST copy_id", "");
    run_text(&text).expect_err("the reply's ID is 0, not the query's");
}

#[test]
fn the_validating_scenario_depends_on_its_date() {
    let text = std::fs::read_to_string(super::dir().join("fwd_val_cname_sibling.rpl"))
        .expect("scenario file");
    run_text(&text).expect("valid on its date: AD set");
    // Ten years on, every signature has expired: no longer an AD=1 NOERROR.
    let later = text.replace("val-override-date: 2020", "val-override-date: 2030");
    let e = run_text(&later).expect_err("expired signatures");
    assert!(e.contains("STEP 11"), "the answer check fails: {e}");
}

#[test]
fn the_reader_keeps_clauses_quotes_and_comments_apart() {
    let text = "server:\n\ttrust-anchor: \". IN DS 1 8 2 AB\" # comment\n\
        forward-zone: name: \"a.\" forward-addr: 1.2.3.4@5353\nforward-zone:\n\tname: b.\n\
        CONFIG_END\nSCENARIO_BEGIN x\nSTEP 1 TIME_PASSES ELAPSE 0.300\n\
        STEP 2 QUERY\nENTRY_BEGIN\nREPLY RD ; a comment\nSECTION QUESTION\na. IN A\nENTRY_END\n\
        SCENARIO_END\n";
    let s = super::rpl::parse(text).expect("parses");
    let pairs: Vec<(&str, usize, &str, &str)> = s
        .config
        .iter()
        .map(|c| {
            (
                c.clause.as_str(),
                c.clause_no,
                c.key.as_str(),
                c.value.as_str(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            ("server", 0, "trust-anchor", ". IN DS 1 8 2 AB"),
            ("forward-zone", 0, "name", "a."),
            ("forward-zone", 0, "forward-addr", "1.2.3.4@5353"),
            ("forward-zone", 1, "name", "b."),
        ]
    );
    assert!(matches!(s.steps[0].kind, super::rpl::StepKind::TimePasses(t) if t == 0.3));
    let e = super::rpl::parse(&text.replace("REPLY RD", "REPLY RD XX")).expect_err("XX");
    assert_eq!(e.line, 11, "{e}");
}

/// Four TIMEOUT steps, then a REPLY to the fifth try (sent 4.8 s in, after tern's client
/// timeout answered SERVFAIL at 4 s while the walk went on), which a second query finds cached.
fn after_timeouts(fifth: &str) -> String {
    let entry =
        &RANGE[RANGE.find("\tENTRY_BEGIN").expect("entry")..RANGE.find("RANGE_END").expect("end")];
    let query = &RANGE[RANGE.find("STEP 1 QUERY").expect("query")..];
    format!(
        "{CONFIG}SCENARIO_BEGIN timeouts\n{query}STEP 2 TIMEOUT\nSTEP 3 TIMEOUT\nSTEP 4 TIMEOUT\n\
         STEP 5 TIMEOUT\n{}STEP 7 CHECK_ANSWER\nENTRY_BEGIN\nMATCH opcode qname qtype rcode\n\
         REPLY QR RD RA SERVFAIL\nSECTION QUESTION\nwww.example.com. IN A\nENTRY_END\n\
         {}STEP 9 CHECK_ANSWER\nENTRY_BEGIN\n{RIGHT}\nENTRY_END\nSCENARIO_END\n",
        fifth.replace("{entry}", entry),
        query.replace("STEP 1", "STEP 8"),
    )
}

#[test]
fn after_a_timeout_the_clock_runs_to_the_next_try_not_to_the_clients_servfail() {
    run_text(&after_timeouts("STEP 6 REPLY\n{entry}")).expect("the fifth try is answered");
    // tern makes five tries: a sixth TIMEOUT finds no query waiting.
    let e =
        run_text(&after_timeouts("STEP 6 TIMEOUT\nSTEP 61 TIMEOUT\n")).expect_err("no sixth try");
    assert!(
        e.contains("STEP 61") && e.contains("no pending upstream query"),
        "{e}"
    );
}
