//! Reading wstest's `index.json`, the failure rules, and the diff against
//! `autobahn/expected-results.json`.
//!
//! A case *fails* under the rule of wstest's own HTML report (its red "Fail"
//! cells): `behavior` is FAILED or any value outside OK, NON-STRICT,
//! INFORMATIONAL, UNIMPLEMENTED and NO_CLOSE, or `behaviorClose` is FAILED,
//! UNCLEAN or any value outside OK, INFORMATIONAL, WRONG CODE and FAILED BY
//! CLIENT; an UNIMPLEMENTED case (12.* and 13.*, permessage-deflate, when the
//! peer does not negotiate it) never fails.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use super::Result;
use super::json::{self, Value};

/// `behavior` values, best first; anything else ranks with FAILED.
const BEHAVIOR_ORDER: &[&str] = &[
    "OK",
    "NON-STRICT",
    "INFORMATIONAL",
    "UNIMPLEMENTED",
    "NO_CLOSE",
    "FAILED",
];
const CLOSE_ORDER: &[&str] = &[
    "OK",
    "INFORMATIONAL",
    "WRONG CODE",
    "FAILED BY CLIENT",
    "UNCLEAN",
    "FAILED",
];
const BEHAVIOR_PASS: &[&str] = &[
    "OK",
    "NON-STRICT",
    "INFORMATIONAL",
    "UNIMPLEMENTED",
    "NO_CLOSE",
];
const CLOSE_PASS: &[&str] = &["OK", "INFORMATIONAL", "WRONG CODE", "FAILED BY CLIENT"];

/// One case of one agent in `index.json`.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub(crate) id: String,
    pub(crate) behavior: String,
    pub(crate) behavior_close: String,
    pub(crate) remote_close_code: Option<f64>,
    pub(crate) duration_ms: f64,
    pub(crate) reportfile: String,
}

impl Case {
    /// Whether wstest's HTML report shows this case as "Fail".
    pub(crate) fn failed(&self) -> bool {
        self.behavior != "UNIMPLEMENTED"
            && (!BEHAVIOR_PASS.contains(&self.behavior.as_str())
                || !CLOSE_PASS.contains(&self.behavior_close.as_str()))
    }

    /// The one value recorded in `expected-results.json`: the `behavior`,
    /// except FAILED for a case that fails on `behaviorClose` alone.
    pub(crate) fn result(&self) -> &str {
        if self.failed() && BEHAVIOR_PASS.contains(&self.behavior.as_str()) {
            "FAILED"
        } else {
            &self.behavior
        }
    }

    fn describe(&self) -> String {
        let close = match self.remote_close_code {
            Some(code) => format!("{code}"),
            None => "none".into(),
        };
        format!(
            "behavior={:<14} behaviorClose={:<14} close={close:<5} {}",
            self.behavior, self.behavior_close, self.reportfile
        )
    }
}

/// The cases of one agent, in natural case order (1.1.2 before 1.1.10).
#[derive(Debug)]
pub(crate) struct AgentReport {
    pub(crate) agent: String,
    pub(crate) cases: Vec<Case>,
}

/// Reads the cases of `agent` from a wstest `index.json`.
pub(crate) fn load(index: &Path, agent: &str) -> Result<AgentReport> {
    let text = fs::read_to_string(index).map_err(|e| {
        format!(
            "cannot read {}: {e} (wstest wrote no report)",
            index.display()
        )
    })?;
    let data = json::parse(&text).map_err(|e| format!("{}: {e}", index.display()))?;
    let agents = data
        .as_object()
        .ok_or_else(|| format!("{}: not a wstest report", index.display()))?;
    if agents.is_empty() {
        return Err(format!(
            "{}: the report has no agents (wstest never reached the testee)",
            index.display()
        ));
    }
    let Some(cases) = data.get(agent).and_then(Value::as_object) else {
        let names: Vec<&str> = agents.iter().map(|(k, _)| k.as_str()).collect();
        return Err(format!(
            "{}: no agent {agent:?} in the report (agents: {}); see --testee",
            index.display(),
            names.join(", ")
        ));
    };
    let text_of = |v: &Value, key: &str| {
        v.get(key)
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string()
    };
    let mut out: Vec<Case> = cases
        .iter()
        .map(|(id, c)| Case {
            id: id.clone(),
            behavior: text_of(c, "behavior"),
            behavior_close: text_of(c, "behaviorClose"),
            remote_close_code: c.get("remoteCloseCode").and_then(Value::as_f64),
            duration_ms: c.get("duration").and_then(Value::as_f64).unwrap_or(0.0),
            reportfile: c
                .get("reportfile")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        })
        .collect();
    out.sort_by(|a, b| case_key(&a.id).cmp(&case_key(&b.id)));
    Ok(AgentReport {
        agent: agent.to_string(),
        cases: out,
    })
}

/// Natural sort key for case ids such as "1.1.10" or "12.3.2".
pub(crate) fn case_key(id: &str) -> Vec<(u8, u64, &str)> {
    id.split('.')
        .map(|part| match part.parse() {
            Ok(n) => (0, n, ""),
            Err(_) => (1, 0, part),
        })
        .collect()
}

/// Whether case `id` is selected by a wstest case pattern: a pattern without
/// `*` is an exact id; with `*`, it is wstest's regex (`.` literal, `*` any
/// run of characters) matched at the start of the id only, so `1.*` does not
/// select `10.1.1`.
pub(crate) fn pattern_matches(pattern: &str, id: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == id;
    }
    let mut parts = pattern.split('*');
    let Some(rest) = id.strip_prefix(parts.next().unwrap_or("")) else {
        return false;
    };
    let mut rest = rest;
    for part in parts {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// Counts per value, in the given order, then any others alphabetically.
fn ordered_counts<'a>(values: impl Iterator<Item = &'a str>, order: &[&str]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    let mut keys: Vec<&str> = order
        .iter()
        .copied()
        .filter(|k| counts.contains_key(k))
        .collect();
    keys.extend(counts.keys().filter(|k| !order.contains(k)));
    keys.iter()
        .map(|k| format!("{k}={}", counts[k]))
        .collect::<Vec<_>>()
        .join("  ")
}

/// Long id lists become counts per top-level group ("12.*: 90").
fn compress_ids(ids: &[&str]) -> String {
    if ids.len() <= 40 {
        return ids.join(", ");
    }
    let mut groups: BTreeMap<u64, usize> = BTreeMap::new();
    for id in ids {
        let group = id
            .split('.')
            .next()
            .and_then(|g| g.parse().ok())
            .unwrap_or(0);
        *groups.entry(group).or_default() += 1;
    }
    groups
        .iter()
        .map(|(g, n)| format!("{g}.*: {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl AgentReport {
    /// Counts of `behavior` values, e.g. "OK=296  NON-STRICT=2  ...".
    pub(crate) fn behavior_counts(&self) -> String {
        ordered_counts(
            self.cases.iter().map(|c| c.behavior.as_str()),
            BEHAVIOR_ORDER,
        )
    }

    pub(crate) fn close_counts(&self) -> String {
        ordered_counts(
            self.cases.iter().map(|c| c.behavior_close.as_str()),
            CLOSE_ORDER,
        )
    }

    pub(crate) fn failing(&self) -> impl Iterator<Item = &Case> {
        self.cases.iter().filter(|c| c.failed())
    }

    /// The text summary, in the shape of summarize.py's.
    pub(crate) fn summary(&self, index: &Path) -> String {
        let total_ms: f64 = self.cases.iter().map(|c| c.duration_ms).sum();
        let mut out = format!(
            "== {}  agent={}  cases={}  (sum of case durations {:.1} s)\n",
            index.display(),
            self.agent,
            self.cases.len(),
            total_ms / 1000.0
        );
        let _ = writeln!(out, "   behavior:      {}", self.behavior_counts());
        let _ = writeln!(out, "   behaviorClose: {}", self.close_counts());
        let mut non_ok: BTreeMap<(u8, String), Vec<&str>> = BTreeMap::new();
        for c in &self.cases {
            if c.behavior != "OK" {
                non_ok
                    .entry((0, format!("behavior {}", c.behavior)))
                    .or_default()
                    .push(&c.id);
            }
            if c.behavior_close != "OK" {
                non_ok
                    .entry((1, format!("behaviorClose {}", c.behavior_close)))
                    .or_default()
                    .push(&c.id);
            }
        }
        for ((_, key), ids) in &non_ok {
            let _ = writeln!(out, "   {:<30} {}", format!("{key}:"), compress_ids(ids));
        }
        let mut slowest: Vec<&Case> = self.cases.iter().collect();
        slowest.sort_by(|a, b| b.duration_ms.total_cmp(&a.duration_ms));
        let slowest: Vec<String> = slowest
            .iter()
            .take(5)
            .map(|c| format!("{} {} ms", c.id, c.duration_ms))
            .collect();
        let _ = writeln!(out, "   slowest: {}", slowest.join(", "));
        let failing: Vec<&Case> = self.failing().collect();
        if !failing.is_empty() {
            let _ = writeln!(out, "   failing cases ({}):", failing.len());
            for c in failing {
                let _ = writeln!(out, "     {:<10} {}", c.id, c.describe());
            }
        }
        out
    }
}

/// role ("server", "client") -> case id -> expected result.
pub(crate) type Expected = BTreeMap<String, BTreeMap<String, String>>;

/// The roles `expected-results.json` may hold.
pub(crate) const ROLES: &[&str] = &["client", "server"];

/// Reads `expected-results.json`; `None` if the file does not exist.
pub(crate) fn load_expected(path: &Path) -> Result<Option<Expected>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let bad = |what: &str| format!("{}: {what}", path.display());
    let data = json::parse(&text).map_err(|e| bad(&e))?;
    let roles = data.as_object().ok_or_else(|| bad("not a JSON object"))?;
    let mut out = Expected::new();
    for (role, cases) in roles {
        if !ROLES.contains(&role.as_str()) {
            return Err(bad(&format!(
                "unknown role {role:?} (expected {})",
                ROLES.join(" or ")
            )));
        }
        let cases = cases
            .as_object()
            .ok_or_else(|| bad(&format!("{role}: not an object of case id -> result")))?;
        let mut map = BTreeMap::new();
        for (id, result) in cases {
            let result = result
                .as_str()
                .ok_or_else(|| bad(&format!("{role}.{id}: the result is not a string")))?;
            map.insert(id.clone(), result.to_string());
        }
        out.insert(role.clone(), map);
    }
    Ok(Some(out))
}

/// `expected-results.json` text: roles sorted, cases in natural order.
pub(crate) fn format_expected(expected: &Expected) -> String {
    let roles = expected
        .iter()
        .map(|(role, cases)| {
            let mut ids: Vec<&String> = cases.keys().collect();
            ids.sort_by(|a, b| case_key(a).cmp(&case_key(b)));
            let members = ids
                .into_iter()
                .map(|id| (id.clone(), Value::String(cases[id].clone())))
                .collect();
            (role.clone(), Value::Object(members))
        })
        .collect();
    Value::Object(roles).to_pretty()
}

fn rank(result: &str) -> usize {
    BEHAVIOR_ORDER
        .iter()
        .position(|r| *r == result)
        .unwrap_or(BEHAVIOR_ORDER.len() - 1)
}

/// How a run compares with the expectations of its role.
#[derive(Debug, Default)]
pub(crate) struct Diff<'a> {
    /// Worse than expected: (case, expected).
    pub(crate) worse: Vec<(&'a Case, &'a str)>,
    /// Expected and selected by the run's case patterns, but not in the report.
    pub(crate) missing: Vec<(&'a str, &'a str)>,
    /// Better than expected: (case, expected).
    pub(crate) better: Vec<(&'a Case, &'a str)>,
    /// Not in the expectations and failing.
    pub(crate) new_failing: Vec<&'a Case>,
    /// Not in the expectations, not failing.
    pub(crate) new_passing: Vec<&'a Case>,
    /// Expected to fail and still failing the same way.
    pub(crate) known_failing: Vec<&'a Case>,
}

impl Diff<'_> {
    /// Whether the run is a regression.
    pub(crate) fn is_failure(&self) -> bool {
        !self.worse.is_empty() || !self.missing.is_empty() || !self.new_failing.is_empty()
    }
}

/// Compares `report` with `expected` (one role). `in_scope` says which
/// expected case ids the run selected (so `--cases 1.*` misses nothing else).
///
/// Results are ranked OK < NON-STRICT < INFORMATIONAL < UNIMPLEMENTED <
/// NO_CLOSE < FAILED (unknown values rank as FAILED). A lower rank than
/// expected is better, a higher one worse, and a different value of the same
/// rank counts as worse.
pub(crate) fn diff<'a>(
    report: &'a AgentReport,
    expected: &'a BTreeMap<String, String>,
    in_scope: impl Fn(&str) -> bool,
) -> Diff<'a> {
    let mut d = Diff::default();
    for c in &report.cases {
        let actual = c.result();
        match expected.get(&c.id) {
            None if c.failed() => d.new_failing.push(c),
            None => d.new_passing.push(c),
            Some(exp) if exp == actual => {
                if c.failed() {
                    d.known_failing.push(c);
                }
            }
            Some(exp) if rank(actual) < rank(exp) => d.better.push((c, exp)),
            Some(exp) => d.worse.push((c, exp)),
        }
    }
    let mut missing: Vec<(&str, &str)> = expected
        .iter()
        .filter(|(id, _)| in_scope(id) && !report.cases.iter().any(|c| &c.id == *id))
        .map(|(id, exp)| (id.as_str(), exp.as_str()))
        .collect();
    missing.sort_by(|a, b| case_key(a.0).cmp(&case_key(b.0)));
    d.missing = missing;
    d
}

/// Replaces the expectations of the cases `in_scope` with the results of `report`.
pub(crate) fn update_expected(
    expected: &mut BTreeMap<String, String>,
    report: &AgentReport,
    in_scope: impl Fn(&str) -> bool,
) {
    expected.retain(|id, _| !in_scope(id));
    for c in &report.cases {
        expected.insert(c.id.clone(), c.result().to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(id: &str, behavior: &str, close: &str) -> Case {
        Case {
            id: id.into(),
            behavior: behavior.into(),
            behavior_close: close.into(),
            remote_close_code: Some(1000.0),
            duration_ms: 1.0,
            reportfile: String::new(),
        }
    }

    #[test]
    fn failure_rules_match_wstest() {
        assert!(!case("1", "OK", "OK").failed());
        assert!(!case("1", "NON-STRICT", "WRONG CODE").failed());
        assert!(!case("1", "INFORMATIONAL", "INFORMATIONAL").failed());
        assert!(!case("1", "NO_CLOSE", "FAILED BY CLIENT").failed());
        assert!(!case("1", "UNIMPLEMENTED", "FAILED").failed());
        assert!(case("1", "FAILED", "OK").failed());
        assert!(case("1", "OK", "UNCLEAN").failed());
        assert!(case("1", "OK", "FAILED").failed());
        assert!(case("1", "WEIRD", "OK").failed());
        assert_eq!(case("1", "OK", "UNCLEAN").result(), "FAILED");
        assert_eq!(case("1", "WEIRD", "OK").result(), "WEIRD");
        assert_eq!(case("1", "NON-STRICT", "OK").result(), "NON-STRICT");
    }

    #[test]
    fn patterns_follow_wstest() {
        assert!(pattern_matches("*", "12.1.1"));
        assert!(pattern_matches("1.*", "1.1.1"));
        assert!(!pattern_matches("1.*", "10.1.1"));
        assert!(pattern_matches("12.2.*", "12.2.10"));
        assert!(pattern_matches("9.*.1", "9.1.1"));
        assert!(pattern_matches("9.*.1", "9.1.10")); // start-anchored only, as in wstest
        assert!(pattern_matches("1.1.1", "1.1.1"));
        assert!(!pattern_matches("1.1.1", "1.1.10"));
        assert!(!pattern_matches("2.*", "1.2.1"));
    }

    #[test]
    fn natural_case_order() {
        let mut ids = vec!["1.1.10", "12.1.1", "1.1.2", "2.1", "1.1.1"];
        ids.sort_by(|a, b| case_key(a).cmp(&case_key(b)));
        assert_eq!(ids, ["1.1.1", "1.1.2", "1.1.10", "2.1", "12.1.1"]);
    }

    #[test]
    fn diff_classifies_cases() {
        let report = AgentReport {
            agent: "a".into(),
            cases: vec![
                case("1.1.1", "OK", "OK"),
                case("1.1.2", "NON-STRICT", "OK"),
                case("1.1.3", "OK", "OK"),
                case("1.1.4", "FAILED", "OK"),
                case("1.1.5", "FAILED", "OK"),
                case("1.1.6", "OK", "OK"),
                case("1.1.7", "INFORMATIONAL", "OK"),
            ],
        };
        let expected: BTreeMap<String, String> = [
            ("1.1.1", "OK"),
            ("1.1.2", "OK"),
            ("1.1.3", "UNIMPLEMENTED"),
            ("1.1.4", "FAILED"),
            ("1.1.7", "NON-STRICT"),
            ("1.1.8", "OK"),
            ("2.1.1", "OK"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let d = diff(&report, &expected, |id| pattern_matches("1.*", id));
        let ids = |v: &[(&Case, &str)]| v.iter().map(|(c, _)| c.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&d.worse), ["1.1.2", "1.1.7"]);
        assert_eq!(ids(&d.better), ["1.1.3"]);
        assert_eq!(d.missing, [("1.1.8", "OK")]);
        assert_eq!(d.new_failing.len(), 1);
        assert_eq!(d.new_passing.len(), 1);
        assert_eq!(d.known_failing.len(), 1);
        assert!(d.is_failure());

        let mut updated = expected.clone();
        update_expected(&mut updated, &report, |id| pattern_matches("1.*", id));
        assert_eq!(updated.len(), 8);
        assert_eq!(updated["1.1.2"], "NON-STRICT");
        assert_eq!(updated["2.1.1"], "OK");
        assert!(!updated.contains_key("1.1.8"));
    }

    #[test]
    fn expected_file_round_trips_in_natural_order() {
        let mut e = Expected::new();
        let server = e.entry("server".into()).or_default();
        for (id, r) in [
            ("1.1.10", "OK"),
            ("1.1.2", "NON-STRICT"),
            ("12.1.1", "UNIMPLEMENTED"),
        ] {
            server.insert(id.into(), r.into());
        }
        let text = format_expected(&e);
        assert_eq!(
            text,
            "{\n  \"server\": {\n    \"1.1.2\": \"NON-STRICT\",\n    \"1.1.10\": \"OK\",\n    \
             \"12.1.1\": \"UNIMPLEMENTED\"\n  }\n}\n"
        );
        let dir = std::env::temp_dir().join(format!("xtask-autobahn-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("expected.json");
        fs::write(&path, &text).unwrap();
        assert_eq!(load_expected(&path).unwrap(), Some(e));
        assert_eq!(load_expected(&dir.join("absent.json")).unwrap(), None);
        fs::write(&path, "{\"servers\": {}}").unwrap();
        assert!(load_expected(&path).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }
}
