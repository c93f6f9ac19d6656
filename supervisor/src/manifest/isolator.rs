//! Isolators: the ones podinit can apply, parsed to typed values; the rest
//! kept as JSON so that the runner can name them to the user.

use serde_json::{Map, Value, json};

use super::capability::{Capability, CapabilitySet};
use super::error::{ManifestError, Rule, show_json};
use super::json::JsonPath;
use super::quantity::{self, QuantityError, Unit};
use super::raw;
use super::validate::Ctx;

const RETAIN_SET: &str = "os/linux/capabilities-retain-set";
const REMOVE_SET: &str = "os/linux/capabilities-remove-set";
const NO_NEW_PRIVILEGES: &str = "os/linux/no-new-privileges";
const OOM_SCORE_ADJ: &str = "os/linux/oom-score-adj";
const MEMORY: &str = "resource/memory";
const CPU: &str = "resource/cpu";

/// The lowest and highest `oom_score_adj` the kernel takes.
const OOM_SCORE_ADJ_RANGE: (i64, i64) = (-1000, 1000);

/// One isolator of an app or of the pod.
#[derive(Clone, Debug, PartialEq)]
pub enum Isolator {
    /// `os/linux/capabilities-retain-set`: the app keeps only these.
    CapabilitiesRetainSet(CapabilitySet),
    /// `os/linux/capabilities-remove-set`: the app loses these from the
    /// default set.
    CapabilitiesRemoveSet(CapabilitySet),
    /// `os/linux/no-new-privileges`.
    NoNewPrivileges(bool),
    /// `os/linux/oom-score-adj`, from -1000 to 1000.
    OomScoreAdj(i16),
    /// `resource/memory`, in bytes, rounded up.
    Memory {
        limit_bytes: u64,
        request_bytes: Option<u64>,
    },
    /// `resource/cpu`, in thousandths of a CPU, rounded up.
    Cpu {
        limit_millicores: u64,
        request_millicores: Option<u64>,
    },
    /// Any other isolator (seccomp sets, `os/linux/cpu-shares`, ...), not
    /// interpreted.
    Other { name: String, value: Value },
}

impl Isolator {
    /// The isolator's appc name.
    pub fn name(&self) -> &str {
        match self {
            Isolator::CapabilitiesRetainSet(_) => RETAIN_SET,
            Isolator::CapabilitiesRemoveSet(_) => REMOVE_SET,
            Isolator::NoNewPrivileges(_) => NO_NEW_PRIVILEGES,
            Isolator::OomScoreAdj(_) => OOM_SCORE_ADJ,
            Isolator::Memory { .. } => MEMORY,
            Isolator::Cpu { .. } => CPU,
            Isolator::Other { name, .. } => name,
        }
    }

    /// Whether podinit understands this isolator (all but `Other`).
    pub fn is_known(&self) -> bool {
        !matches!(self, Isolator::Other { .. })
    }

    /// The `value` JSON, in canonical form: quantities as plain numbers of
    /// bytes or as millicores (`"250m"`).
    pub fn value_json(&self) -> Value {
        match self {
            Isolator::CapabilitiesRetainSet(set) | Isolator::CapabilitiesRemoveSet(set) => {
                let names: Vec<String> = set.iter().map(|cap| cap.to_string()).collect();
                json!({ "set": names })
            }
            Isolator::NoNewPrivileges(on) => Value::Bool(*on),
            Isolator::OomScoreAdj(adj) => json!(adj),
            Isolator::Memory {
                limit_bytes,
                request_bytes,
            } => resource_json(
                limit_bytes.to_string(),
                request_bytes.map(|b| b.to_string()),
            ),
            Isolator::Cpu {
                limit_millicores,
                request_millicores,
            } => resource_json(
                format!("{limit_millicores}m"),
                request_millicores.map(|m| format!("{m}m")),
            ),
            Isolator::Other { value, .. } => value.clone(),
        }
    }

    pub(super) fn to_raw(&self) -> raw::Isolator {
        raw::Isolator {
            name: self.name().to_owned(),
            value: self.value_json(),
        }
    }
}

fn resource_json(limit: String, request: Option<String>) -> Value {
    let mut map = Map::new();
    map.insert("limit".to_owned(), Value::String(limit));
    if let Some(request) = request {
        map.insert("request".to_owned(), Value::String(request));
    }
    Value::Object(map)
}

/// Reads one isolator's value; `at` is the isolator, its value is at
/// `at.value`. The name has been checked.
pub(super) fn parse(
    cx: &Ctx<'_>,
    at: &JsonPath<'_>,
    name: String,
    value: Value,
) -> Result<Isolator, ManifestError> {
    let at = at.key("value");
    let isolator = match name.as_str() {
        RETAIN_SET => Isolator::CapabilitiesRetainSet(capabilities(cx, &at, &value)?),
        REMOVE_SET => Isolator::CapabilitiesRemoveSet(capabilities(cx, &at, &value)?),
        NO_NEW_PRIVILEGES => Isolator::NoNewPrivileges(boolean(cx, &at, &value)?),
        OOM_SCORE_ADJ => Isolator::OomScoreAdj(oom_score_adj(cx, &at, &value)?),
        MEMORY => {
            let (limit_bytes, request_bytes) = resource(cx, &at, &value, Unit::Whole)?;
            Isolator::Memory {
                limit_bytes,
                request_bytes,
            }
        }
        CPU => {
            let (limit_millicores, request_millicores) = resource(cx, &at, &value, Unit::Milli)?;
            Isolator::Cpu {
                limit_millicores,
                request_millicores,
            }
        }
        _ => Isolator::Other { name, value },
    };
    Ok(isolator)
}

/// `{"set": ["CAP_NET_RAW", ...]}`. An empty set is allowed: for a retain
/// set it means no capability at all.
fn capabilities(
    cx: &Ctx<'_>,
    at: &JsonPath<'_>,
    value: &Value,
) -> Result<CapabilitySet, ManifestError> {
    let expected = "{\"set\": [capability names]}";
    let Some(names) = value.get("set").and_then(Value::as_array) else {
        return Err(cx.fail(at, Some(show_json(value)), Rule::IsolatorValue { expected }));
    };
    let at = at.key("set");
    let mut set = CapabilitySet::new();
    for (i, name) in names.iter().enumerate() {
        let cap = name.as_str().and_then(Capability::from_name);
        let Some(cap) = cap else {
            return Err(cx.fail(&at.index(i), Some(show_json(name)), Rule::Capability));
        };
        set.insert(cap);
    }
    Ok(set)
}

fn boolean(cx: &Ctx<'_>, at: &JsonPath<'_>, value: &Value) -> Result<bool, ManifestError> {
    let expected = "true or false";
    value
        .as_bool()
        .ok_or_else(|| cx.fail(at, Some(show_json(value)), Rule::IsolatorValue { expected }))
}

fn oom_score_adj(cx: &Ctx<'_>, at: &JsonPath<'_>, value: &Value) -> Result<i16, ManifestError> {
    let (min, max) = OOM_SCORE_ADJ_RANGE;
    value
        .as_i64()
        .filter(|n| (min..=max).contains(n))
        .and_then(|n| i16::try_from(n).ok())
        .ok_or_else(|| cx.fail(at, Some(show_json(value)), Rule::Range { min, max }))
}

/// `{"limit": q, "request": q}`: the limit is required, since it is what
/// podinit applies; other keys (`"default"`) are ignored.
fn resource(
    cx: &Ctx<'_>,
    at: &JsonPath<'_>,
    value: &Value,
    unit: Unit,
) -> Result<(u64, Option<u64>), ManifestError> {
    let Some(limit) = value.get("limit") else {
        let expected = "{\"limit\": quantity}";
        return Err(cx.fail(at, Some(show_json(value)), Rule::IsolatorValue { expected }));
    };
    let limit = amount(cx, &at.key("limit"), limit, unit)?;
    let request = match value.get("request") {
        Some(request) => Some(amount(cx, &at.key("request"), request, unit)?),
        None => None,
    };
    Ok((limit, request))
}

/// A quantity given as a string (`"64Mi"`) or a bare JSON number.
fn amount(
    cx: &Ctx<'_>,
    at: &JsonPath<'_>,
    value: &Value,
    unit: Unit,
) -> Result<u64, ManifestError> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        _ => return Err(cx.fail(at, Some(show_json(value)), Rule::Quantity)),
    };
    quantity::parse(&text, unit).map_err(|err| {
        let rule = match err {
            QuantityError::Syntax => Rule::Quantity,
            QuantityError::Negative => Rule::Negative,
            QuantityError::TooLarge => Rule::TooLarge,
        };
        cx.fail(at, Some(show_json(value)), rule)
    })
}
