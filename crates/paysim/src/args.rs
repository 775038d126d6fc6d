//! The command-line flags both simulators' `config_from_args` read: `--flag value` pairs, and
//! `--fault NAME` as often as wanted. Errors are one line naming the flag, never a key's bytes.
use std::collections::HashMap;
use std::str::FromStr;

use crate::Faults;

/// The flags given, checked against the simulator's list.
pub(crate) struct Flags<'a> {
    values: HashMap<&'a str, &'a str>,
    /// The `--fault`s given.
    pub(crate) faults: Faults,
}

impl<'a> Flags<'a> {
    /// Reads `args` (without the program name); a flag not in `known` (nor `--fault`), a flag
    /// without its value or an unknown fault is refused. A flag given twice keeps its last value.
    pub(crate) fn parse(args: &'a [String], known: &[&str]) -> Result<Self, String> {
        let mut values = HashMap::new();
        let mut faults = Faults::default();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            if flag == "--fault" {
                set_fault(&mut faults, value)?;
            } else if known.contains(&flag.as_str()) {
                values.insert(flag.as_str(), value.as_str());
            } else {
                return Err(format!("unknown argument {flag:?}"));
            }
        }
        Ok(Self { values, faults })
    }

    /// The value of `flag`, if given.
    pub(crate) fn get(&self, flag: &str) -> Option<&'a str> {
        self.values.get(flag).copied()
    }

    /// The value of `flag`, which is required.
    pub(crate) fn need(&self, flag: &str) -> Result<&'a str, String> {
        self.get(flag).ok_or_else(|| format!("{flag} is required"))
    }

    /// The contents of the file `flag` names (required).
    pub(crate) fn read(&self, flag: &str) -> Result<String, String> {
        let path = self.need(flag)?;
        std::fs::read_to_string(path).map_err(|e| format!("{flag} {path}: {e}"))
    }

    /// The number `flag` gives, if given.
    pub(crate) fn number<T: FromStr>(&self, flag: &str) -> Result<Option<T>, String> {
        self.get(flag)
            .map(|v| {
                v.parse()
                    .map_err(|_| format!("{flag} {v:?} is not a number"))
            })
            .transpose()
    }
}

/// Both spellings are taken (`out-of-order`, `out_of_order`): the two simulators documented one
/// each.
fn set_fault(faults: &mut Faults, name: &str) -> Result<(), String> {
    match name.replace('_', "-").as_str() {
        "timeout" => faults.timeout = true,
        "duplicate" => faults.duplicate = true,
        "out-of-order" => faults.out_of_order = true,
        "bad-signature" => faults.bad_signature = true,
        _ => return Err(format!("unknown fault {name:?}")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn pairs_faults_and_refusals() {
        let a = args(&[
            "--id",
            "1",
            "--n",
            "25",
            "--fault",
            "out_of_order",
            "--fault",
            "bad-signature",
        ]);
        let f = Flags::parse(&a, &["--id", "--n", "--file"]).unwrap();
        assert_eq!(f.need("--id"), Ok("1"));
        assert_eq!(f.number::<u64>("--n"), Ok(Some(25)));
        assert_eq!(f.number::<u64>("--file"), Ok(None));
        assert_eq!(f.need("--file"), Err("--file is required".to_owned()));
        assert_eq!(
            f.faults,
            Faults {
                out_of_order: true,
                bad_signature: true,
                ..Faults::default()
            }
        );
        let a = args(&["--n", "x"]);
        let f = Flags::parse(&a, &["--n"]).unwrap();
        assert!(f.number::<u64>("--n").unwrap_err().contains("--n"));
        for (bad, says) in [
            (args(&["--id"]), "--id needs a value"),
            (args(&["--other", "1"]), "unknown argument \"--other\""),
            (args(&["--fault", "fire"]), "unknown fault \"fire\""),
        ] {
            let e = Flags::parse(&bad, &["--id"]).err().unwrap();
            assert_eq!(e, says);
        }
    }
}
