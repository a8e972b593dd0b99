//! `{name}` placeholders in scenario strings, filled from variables the caller gives (the lab's
//! second ACS URL, a serial number).

/// `text` with each `{name}` replaced by the value of variable `name`; `{{` and `}}` stand for
/// literal braces. An unknown variable or a lone brace is an error naming it.
pub(super) fn expand(text: &str, vars: &[(&str, &str)]) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(['{', '}']) {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("{{").or_else(|| tail.strip_prefix("}}")) {
            out.push_str(&tail[..1]);
            rest = after;
            continue;
        }
        let close = tail
            .strip_prefix('{')
            .and_then(|inner| inner.find('}'))
            .ok_or_else(|| {
                format!(
                    "lone `{}` in {text:?} (write `{{{{` or `}}}}` for a literal brace)",
                    &tail[..1]
                )
            })?;
        let name = &tail[1..1 + close];
        let value = vars
            .iter()
            .find(|(var, _)| *var == name)
            .map(|(_, value)| *value)
            .ok_or_else(|| format!("unknown variable `{{{name}}}` in {text:?}{}", known(vars)))?;
        out.push_str(value);
        rest = &tail[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn known(vars: &[(&str, &str)]) -> String {
    if vars.is_empty() {
        return " (no variables are defined)".to_owned();
    }
    let names: Vec<String> = vars.iter().map(|(name, _)| format!("{{{name}}}")).collect();
    format!(" (defined: {})", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn placeholders_are_replaced_and_doubled_braces_are_literal() {
        let vars = [("acs2", "http://10.0.0.2:7548/"), ("n", "7")];
        assert_eq!(
            expand("{acs2}cwmp?n={n}", &vars).unwrap(),
            "http://10.0.0.2:7548/cwmp?n=7"
        );
        assert_eq!(expand("{{n}} }}", &vars).unwrap(), "{n} }");
        assert_eq!(expand("plain", &[]).unwrap(), "plain");
    }

    #[test]
    fn unknown_variables_and_lone_braces_are_refused() {
        assert_eq!(
            expand("{acs3}", &[("acs2", "x")]).unwrap_err(),
            "unknown variable `{acs3}` in \"{acs3}\" (defined: {acs2})"
        );
        assert_eq!(
            expand("a{b", &[]).unwrap_err(),
            "lone `{` in \"a{b\" (write `{{` or `}}` for a literal brace)"
        );
        assert_eq!(
            expand("a}b", &[]).unwrap_err(),
            "lone `}` in \"a}b\" (write `{{` or `}}` for a literal brace)"
        );
    }
}
