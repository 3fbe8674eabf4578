//! LangGraph's field paths (`a.b`, `a[0]`, `a[-1]`, `a[*]`, `a.{x,y}`, `*`, `$`): a port of
//! `langgraph.store.base.embed.tokenize_path` and `get_text_at_path`.
//!
//! The walk is generic over `Node` so it is tested here on `serde_json` values and runs in the
//! extension on Python objects; there the leaves are formatted by Python itself (`str()` and
//! `json.dumps(sort_keys=True, ensure_ascii=False)`) and indexes parsed by `int()`, so the output
//! is LangGraph's to the byte.

/// What a path step can do with a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A dict (or subclass).
    Dict,
    /// A list (or subclass); tuples are `Other`, as in LangGraph.
    List,
    /// str, int, float or bool: a leaf rendered with `str()`.
    Scalar,
    /// None: yields nothing.
    Null,
    /// Anything else: yields nothing.
    Other,
}

pub trait Node: Sized {
    type Text;
    type Error;

    fn kind(&self) -> Kind;
    /// `self[key]` of a dict, if the key is there.
    fn get(&self, key: &str) -> Result<Option<Self>, Self::Error>;
    /// The items of a list or the values of a dict, in order.
    fn children(&self) -> Result<Vec<Self>, Self::Error>;
    /// `str(self)` for scalars, the JSON text for lists and dicts.
    fn render(&self) -> Result<Self::Text, Self::Error>;
    /// Python's `int(text)`: None when it raises, saturated when it does not fit an i64.
    fn parse_index(&self, text: &str) -> Result<Option<i64>, Self::Error>;
}

/// Python's `str.isspace()`, which `str.strip()` uses; Rust's whitespace lacks U+001C..U+001F.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Collects an opening `[`/`{` and everything up to its matching closer (or the end).
fn take_group(chars: &[char], start: usize, open: char, close: char) -> (String, usize) {
    let mut depth = 1;
    let mut token = String::from(open);
    let mut i = start + 1;
    while i < chars.len() && depth > 0 {
        if chars[i] == open {
            depth += 1;
        } else if chars[i] == close {
            depth -= 1;
        }
        token.push(chars[i]);
        i += 1;
    }
    (token, i)
}

pub fn tokenize_path(path: &str) -> Vec<String> {
    let chars: Vec<char> = path.chars().collect();
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '[' || c == '{' {
            if !current.is_empty() {
                tokens.push(std::mem::take(&mut current));
            }
            let close = if c == '[' { ']' } else { '}' };
            let (token, next) = take_group(&chars, i, c, close);
            tokens.push(token);
            i = next;
            continue;
        }
        if c == '.' {
            if !current.is_empty() {
                tokens.push(std::mem::take(&mut current));
            }
        } else {
            current.push(c);
        }
        i += 1;
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

fn render_leaf<N: Node>(node: &N, out: &mut Vec<N::Text>) -> Result<(), N::Error> {
    if matches!(node.kind(), Kind::Scalar | Kind::List | Kind::Dict) {
        out.push(node.render()?);
    }
    Ok(())
}

fn is_wrapped(token: &str, open: char, close: char) -> bool {
    token.starts_with(open) && token.ends_with(close)
}

fn inner(token: &str) -> &str {
    // Both ends are one-byte ASCII brackets.
    &token[1..token.len() - 1]
}

/// The texts at pre-tokenized `tokens` (the part of `get_text_at_path` after `$` is handled).
pub fn texts_at<N: Node>(node: &N, tokens: &[String]) -> Result<Vec<N::Text>, N::Error> {
    let mut out = Vec::new();
    walk(node, tokens, &mut out)?;
    Ok(out)
}

fn walk<N: Node>(node: &N, tokens: &[String], out: &mut Vec<N::Text>) -> Result<(), N::Error> {
    let Some((token, rest)) = tokens.split_first() else {
        return render_leaf(node, out);
    };
    if is_wrapped(token, '[', ']') {
        if node.kind() != Kind::List {
            return Ok(());
        }
        let index = inner(token);
        let items = node.children()?;
        if index == "*" {
            for item in &items {
                walk(item, rest, out)?;
            }
        } else if let Some(index) = node.parse_index(index)? {
            let len = items.len() as i64;
            let index = if index < 0 {
                index.saturating_add(len)
            } else {
                index
            };
            if (0..len).contains(&index) {
                walk(&items[index as usize], rest, out)?;
            }
        }
    } else if is_wrapped(token, '{', '}') {
        if node.kind() != Kind::Dict {
            return Ok(());
        }
        for field in inner(token).split(',') {
            pick_field(node, field.trim_matches(is_python_space), out)?;
        }
    } else if token == "*" {
        if matches!(node.kind(), Kind::Dict | Kind::List) {
            for child in &node.children()? {
                walk(child, rest, out)?;
            }
        }
    } else if node.kind() == Kind::Dict {
        if let Some(child) = node.get(token)? {
            walk(&child, rest, out)?;
        }
    }
    Ok(())
}

/// One field of `{a,b.c}`: every step is a dict key (even `[0]`), and the path stops there.
fn pick_field<N: Node>(node: &N, field: &str, out: &mut Vec<N::Text>) -> Result<(), N::Error> {
    let steps = tokenize_path(field);
    if steps.is_empty() {
        return Ok(());
    }
    let mut current: Option<N> = None;
    for step in &steps {
        let here = current.as_ref().unwrap_or(node);
        if here.kind() != Kind::Dict {
            return Ok(());
        }
        match here.get(step)? {
            Some(child) => current = Some(child),
            None => return Ok(()),
        }
    }
    match current {
        Some(found) => render_leaf(&found, out),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use std::convert::Infallible;

    impl Node for Value {
        type Text = String;
        type Error = Infallible;

        fn kind(&self) -> Kind {
            match self {
                Value::Object(_) => Kind::Dict,
                Value::Array(_) => Kind::List,
                Value::Null => Kind::Null,
                _ => Kind::Scalar,
            }
        }
        fn get(&self, key: &str) -> Result<Option<Self>, Infallible> {
            Ok(self.get(key).cloned())
        }
        fn children(&self) -> Result<Vec<Self>, Infallible> {
            Ok(match self {
                Value::Object(map) => map.values().cloned().collect(),
                Value::Array(items) => items.clone(),
                _ => Vec::new(),
            })
        }
        fn render(&self) -> Result<String, Infallible> {
            Ok(match self {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        }
        fn parse_index(&self, text: &str) -> Result<Option<i64>, Infallible> {
            Ok(text.trim().parse().ok())
        }
    }

    fn texts(value: &Value, path: &str) -> Vec<String> {
        texts_at(value, &tokenize_path(path)).unwrap()
    }

    #[test]
    fn tokenizes_like_langgraph() {
        assert_eq!(
            tokenize_path("a.b[0].{x, y.z}"),
            ["a", "b", "[0]", "{x, y.z}"]
        );
        assert_eq!(tokenize_path("a[[1]]b"), ["a", "[[1]]", "b"]);
        assert_eq!(tokenize_path("a[0"), ["a", "[0"]);
        assert_eq!(tokenize_path("..x."), ["x"]);
        assert!(tokenize_path("").is_empty());
    }

    #[test]
    fn walks_fields_indexes_and_wildcards() {
        let value = json!({"a": {"b": "x"}, "l": ["p", "q", {"z": 1}], "n": null});
        assert_eq!(texts(&value, "a.b"), ["x"]);
        assert_eq!(texts(&value, "l[0]"), ["p"]);
        assert_eq!(texts(&value, "l[-1].z"), ["1"]);
        assert_eq!(texts(&value, "l[*]"), ["p", "q", "{\"z\":1}"]);
        assert_eq!(texts(&value, "l[9]"), Vec::<String>::new());
        assert_eq!(texts(&value, "l[x]"), Vec::<String>::new());
        assert_eq!(texts(&value, "n"), Vec::<String>::new());
        assert_eq!(texts(&value, "a.*"), ["x"]);
        assert_eq!(texts(&value, "missing.b"), Vec::<String>::new());
        assert_eq!(texts(&value, "a[0]"), Vec::<String>::new());
    }

    #[test]
    fn multi_field_selection_uses_dict_keys_only() {
        let value = json!({"a": {"b": "x", "[0]": "k"}, "c": 2, "n": null});
        assert_eq!(texts(&value, "{c, a.b,n,missing,}"), ["2", "x"]);
        assert_eq!(texts(&value, "a.{[0]}"), ["k"]);
        assert_eq!(texts(&value, "{\u{1c}c\u{1f}}"), ["2"]);
    }
}
