//! `get_text_at_path` on Python objects: the walk of `crate::paths`, with leaves rendered and
//! indexes parsed by Python itself so the output is LangGraph's to the byte.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyInt, PyList, PyString};

use crate::paths::{self, Kind, Node};

/// Python's own formatting and `int()`, so texts and indexes match LangGraph exactly.
struct PyFormat<'py> {
    dumps: Bound<'py, PyAny>,
    int: Bound<'py, PyAny>,
}

impl<'py> PyFormat<'py> {
    fn new(py: Python<'py>) -> PyResult<Self> {
        Ok(Self {
            dumps: py.import("json")?.getattr("dumps")?,
            int: py.import("builtins")?.getattr("int")?,
        })
    }

    fn json(&self, obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let kwargs = PyDict::new(obj.py());
        kwargs.set_item("sort_keys", true)?;
        kwargs.set_item("ensure_ascii", false)?;
        self.dumps.call((obj,), Some(&kwargs))
    }
}

struct PyNode<'a, 'py> {
    obj: Bound<'py, PyAny>,
    format: &'a PyFormat<'py>,
}

impl<'a, 'py> PyNode<'a, 'py> {
    fn child(&self, obj: Bound<'py, PyAny>) -> Self {
        Self {
            obj,
            format: self.format,
        }
    }
}

impl<'a, 'py> Node for PyNode<'a, 'py> {
    type Text = Bound<'py, PyAny>;
    type Error = PyErr;

    fn kind(&self) -> Kind {
        let obj = &self.obj;
        if obj.is_instance_of::<PyString>()
            || obj.is_instance_of::<PyInt>()
            || obj.is_instance_of::<PyFloat>()
        {
            Kind::Scalar
        } else if obj.is_none() {
            Kind::Null
        } else if obj.is_instance_of::<PyList>() {
            Kind::List
        } else if obj.is_instance_of::<PyDict>() {
            Kind::Dict
        } else {
            Kind::Other
        }
    }

    fn get(&self, key: &str) -> PyResult<Option<Self>> {
        let dict = self.obj.cast::<PyDict>()?;
        Ok(dict.get_item(key)?.map(|value| self.child(value)))
    }

    fn children(&self) -> PyResult<Vec<Self>> {
        let items = match self.obj.cast::<PyDict>() {
            Ok(dict) => dict.values(),
            Err(_) => self.obj.cast::<PyList>()?.clone(),
        };
        Ok(items.iter().map(|item| self.child(item)).collect())
    }

    fn render(&self) -> PyResult<Bound<'py, PyAny>> {
        match self.kind() {
            Kind::Scalar => Ok(self.obj.str()?.into_any()),
            _ => self.format.json(&self.obj),
        }
    }

    fn parse_index(&self, text: &str) -> PyResult<Option<i64>> {
        let py = self.obj.py();
        let number = match self.format.int.call1((text,)) {
            Ok(number) => number,
            Err(err) if err.is_instance_of::<PyValueError>(py) => return Ok(None),
            Err(err) => return Err(err),
        };
        // A number beyond i64 is out of range of any list either way.
        Ok(Some(number.extract::<i64>().unwrap_or_else(|_| {
            if number.lt(0).unwrap_or(false) {
                i64::MIN
            } else {
                i64::MAX
            }
        })))
    }
}

/// `langgraph.store.base.embed.tokenize_path`.
#[pyfunction]
pub(super) fn tokenize_path(path: &str) -> Vec<String> {
    paths::tokenize_path(path)
}

/// `langgraph.store.base.embed.get_text_at_path` (top-level Mappings are converted by the caller).
#[pyfunction]
pub(super) fn get_text_at_path<'py>(
    obj: &Bound<'py, PyAny>,
    path: &Bound<'py, PyAny>,
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let format = PyFormat::new(obj.py())?;
    // Only an empty path or `$` means "the whole value"; a path like `..` has no tokens but
    // renders the value as a leaf (so None gives nothing), as LangGraph does.
    let tokens: Vec<String> = match path.cast::<PyString>() {
        Ok(text) => match text.to_str()? {
            "" | "$" => return Ok(vec![format.json(obj)?]),
            text => paths::tokenize_path(text),
        },
        Err(_) => {
            let tokens: Vec<String> = path.extract()?;
            if tokens.is_empty() {
                return Ok(vec![format.json(obj)?]);
            }
            tokens
        }
    };
    let node = PyNode {
        obj: obj.clone(),
        format: &format,
    };
    paths::texts_at(&node, &tokens)
}
