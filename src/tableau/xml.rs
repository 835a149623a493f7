//! Tableau's REST responses (`<tsResponse xmlns="http://tableau.com/api">`)
//! read into a flat list of elements, which is all strata needs of them: the
//! attributes of `credentials`, `site`, `pagination`, `datasource`, `job`,
//! and the text of `notes` and `detail`.

use std::collections::BTreeMap;

use quick_xml::Reader;
use quick_xml::events::Event;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// The local name, without the namespace prefix.
    pub name: String,
    pub attributes: BTreeMap<String, String>,
    /// The text directly inside it, trimmed.
    pub text: String,
    /// The index of the enclosing element, if any.
    pub parent: Option<usize>,
}

impl Element {
    pub fn get(&self, attribute: &str) -> Option<&str> {
        self.attributes.get(attribute).map(String::as_str)
    }
}

/// A body that is not well-formed XML.
#[derive(Debug, thiserror::Error)]
#[error("not XML at byte {position}: {source}")]
pub struct XmlError {
    position: u64,
    #[source]
    source: quick_xml::Error,
}

/// Every element of `xml`, in document order.
pub fn parse(xml: &str) -> Result<Vec<Element>, XmlError> {
    let mut reader = Reader::from_str(xml);
    let mut elements: Vec<Element> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    loop {
        let event = reader.read_event().map_err(|source| XmlError { position: reader.buffer_position(), source })?;
        let empty = matches!(event, Event::Empty(_));
        match event {
            Event::Start(start) | Event::Empty(start) => {
                let mut element = Element {
                    name: String::from_utf8_lossy(start.local_name().as_ref()).into_owned(),
                    parent: open.last().copied(),
                    ..Element::default()
                };
                for attribute in start.attributes().flatten() {
                    let key = String::from_utf8_lossy(attribute.key.local_name().as_ref()).into_owned();
                    let value = attribute.unescape_value().map(|v| v.into_owned()).unwrap_or_default();
                    element.attributes.insert(key, value);
                }
                elements.push(element);
                if !empty {
                    open.push(elements.len() - 1);
                }
            }
            Event::End(_) => {
                if let Some(index) = open.pop() {
                    let text = elements[index].text.trim().to_string();
                    elements[index].text = text;
                }
            }
            Event::Text(text) => {
                if let (Some(&index), Ok(text)) = (open.last(), text.decode()) {
                    elements[index].text.push_str(&text);
                }
            }
            Event::GeneralRef(reference) => {
                if let (Some(&index), Ok(name)) = (open.last(), reference.decode()) {
                    let character = match name.as_ref() {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "",
                    };
                    elements[index].text.push_str(character);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(elements)
}

/// The first element named `name`.
pub fn first<'a>(elements: &'a [Element], name: &str) -> Option<&'a Element> {
    elements.iter().find(|e| e.name == name)
}

/// Tableau's error: `<error code="409093"><summary/><detail/></error>`.
pub fn error(elements: &[Element]) -> Option<(String, String)> {
    let index = elements.iter().position(|e| e.name == "error")?;
    let code = elements[index].get("code").unwrap_or_default().to_string();
    let text = |name: &str| elements.iter().find(|e| e.parent == Some(index) && e.name == name).map(|e| e.text.clone()).unwrap_or_default();
    let (summary, detail) = (text("summary"), text("detail"));
    let message = match (summary.is_empty(), detail.is_empty()) {
        (false, false) => format!("{summary}: {detail}"),
        (true, false) => detail,
        _ => summary,
    };
    Some((code, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_elements_attributes_and_text_under_tableau_s_namespace() {
        let xml = r#"<?xml version='1.0'?><tsResponse xmlns="http://tableau.com/api"><pagination pageNumber="1" totalAvailable="2"/>
            <datasources><datasource id="a" name="S &amp; P"><project name="default"/></datasource></datasources>
            <error code="409093"><summary>Resource Conflict</summary><detail>already queued</detail></error></tsResponse>"#;
        let elements = parse(xml).unwrap();
        assert_eq!(first(&elements, "pagination").and_then(|p| p.get("totalAvailable")), Some("2"));
        let datasource = elements.iter().position(|e| e.name == "datasource").unwrap();
        assert_eq!(elements[datasource].get("name"), Some("S & P"));
        assert_eq!(elements.iter().find(|e| e.name == "project").unwrap().parent, Some(datasource));
        assert_eq!(error(&elements), Some(("409093".into(), "Resource Conflict: already queued".into())));
        assert!(parse("<a><b></a>").is_err());
    }
}
