//! `${NAME}` interpolation of every string in the parsed config tree.
//!
//! Interpolation runs on parsed TOML values, never on the file's text, so a value
//! holding quotes or newlines cannot change the file's structure.

use super::ConfigError;

/// The environment values that went into the config, so that no error message
/// ever shows one: an operator's `${VAR}` may hold a secret, and a bad value is
/// named by its key and variable instead.
#[derive(Debug, Default)]
pub struct Substitutions(Vec<(String, String)>);

impl Substitutions {
    /// `message` with every interpolated value replaced by `${NAME}`.
    pub fn redact(&self, message: &str) -> String {
        let mut out = message.to_string();
        // Longest first, so a value holding another is replaced whole.
        let mut subs: Vec<&(String, String)> =
            self.0.iter().filter(|(_, v)| !v.is_empty()).collect();
        subs.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
        for (name, value) in subs {
            let var = format!("${{{name}}}");
            for (open, close) in [("`", "`"), ("\"", "\""), ("'", "'")] {
                out = out.replace(
                    &format!("{open}{value}{close}"),
                    &format!("{open}{var}{close}"),
                );
            }
            // A short bare value ("1", "on") could be part of the message's own
            // words; only quoted forms are replaced for those.
            if value.len() >= 4 {
                out = out.replace(value.as_str(), &var);
            }
        }
        out
    }
}

/// Replaces `${NAME}` in every string of `value` by the environment variable NAME,
/// and returns what was put in, for [`Substitutions::redact`]. `key` is the dotted
/// path of `value`, used to name the key in errors.
pub fn interpolate(
    value: &mut toml::Value,
    key: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Substitutions, ConfigError> {
    let mut subs = Substitutions::default();
    walk(value, key, env, &mut subs)?;
    Ok(subs)
}

fn walk(
    value: &mut toml::Value,
    key: &str,
    env: &dyn Fn(&str) -> Option<String>,
    subs: &mut Substitutions,
) -> Result<(), ConfigError> {
    match value {
        toml::Value::String(s) if s.contains("${") => {
            *s = substitute(s, key, env, subs)?;
        }
        toml::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, &format!("{key}[{i}]"), env, subs)?;
            }
        }
        toml::Value::Table(table) => {
            for (k, v) in table.iter_mut() {
                let path = if key.is_empty() {
                    k.clone()
                } else {
                    format!("{key}.{k}")
                };
                walk(v, &path, env, subs)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn substitute(
    input: &str,
    key: &str,
    env: &dyn Fn(&str) -> Option<String>,
    subs: &mut Substitutions,
) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(ConfigError::invalid(
                key,
                "has `${` without a closing `}`; write `${NAME}` to read the environment variable NAME",
            ));
        };
        let name = &after[..end];
        let valid = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(ConfigError::invalid(
                key,
                format!("`${{{name}}}` is not a valid environment variable name (letters, digits and `_`)"),
            ));
        }
        match env(name) {
            Some(v) => {
                out.push_str(&v);
                subs.0.push((name.to_string(), v));
            }
            None => {
                return Err(ConfigError::UnsetVariable {
                    name: name.to_string(),
                    key: key.to_string(),
                })
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "A" => Some("alpha".into()),
            "QUOTE" => Some("x\"y\nz".into()),
            _ => None,
        }
    }

    fn run(s: &str) -> Result<String, ConfigError> {
        let mut v = toml::Value::String(s.into());
        interpolate(&mut v, "k", &env)?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    #[test]
    fn replaces_each_reference() {
        assert_eq!(run("${A}-${A}").unwrap(), "alpha-alpha");
        assert_eq!(run("plain").unwrap(), "plain");
    }

    #[test]
    fn values_are_not_reparsed() {
        assert_eq!(run("${QUOTE}").unwrap(), "x\"y\nz");
    }

    #[test]
    fn unset_variable_names_variable_and_key() {
        let err = run("${NOPE}").unwrap_err().to_string();
        assert!(err.contains("NOPE") && err.contains("`k`"), "{err}");
    }

    #[test]
    fn unterminated_and_bad_names_are_errors() {
        assert!(run("${A").is_err());
        assert!(run("${1A}").is_err());
        assert!(run("${}").is_err());
        assert!(run("${A-B}").is_err());
    }

    #[test]
    fn redact_names_the_variable_instead_of_its_value() {
        let mut v: toml::Value = toml::from_str("a = \"${A}\"\nb = \"x-${A}\"\n").unwrap();
        let subs = interpolate(&mut v, "", &env).unwrap();
        assert_eq!(
            subs.redact("`alpha` is not a URL; got \"x-alpha\""),
            "`${A}` is not a URL; got \"x-${A}\""
        );
    }

    #[test]
    fn nested_tables_and_arrays_name_their_path() {
        let mut v: toml::Value = toml::from_str("[s]\nlist = [\"ok\", \"${MISSING}\"]\n").unwrap();
        let err = interpolate(&mut v, "", &env).unwrap_err().to_string();
        assert!(err.contains("s.list[1]"), "{err}");
    }
}
