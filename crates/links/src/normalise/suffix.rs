//! The Public Suffix List: compiled in (the `psl` crate) or replaced from a file (`publicsuffix`).

use std::path::Path;

use publicsuffix::Psl;

use crate::Error;

/// Where registrable domains come from.
#[derive(Debug, Default)]
#[non_exhaustive]
pub enum SuffixList {
    /// The list compiled into the binary (the `psl` crate's snapshot of publicsuffix.org).
    #[default]
    Builtin,
    /// A list parsed from an operator's file in the publicsuffix.org format.
    Custom(publicsuffix::List),
}

impl SuffixList {
    /// Parse a list in the publicsuffix.org `public_suffix_list.dat` format.
    pub fn parse(text: &str, name: &str) -> Result<SuffixList, Error> {
        let list: publicsuffix::List =
            text.parse()
                .map_err(|e: publicsuffix::Error| Error::SuffixList {
                    name: name.to_owned(),
                    message: e.to_string(),
                })?;
        if list.is_empty() {
            return Err(Error::SuffixList {
                name: name.to_owned(),
                message: "no rules".to_owned(),
            });
        }
        Ok(SuffixList::Custom(list))
    }

    /// Read and parse a list from `path`; the error names the file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<SuffixList, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        SuffixList::parse(&text, &path.display().to_string())
    }

    /// The registrable domain ("eTLD+1") of a lower-case ASCII host, e.g. `taobao.com` for
    /// `item.taobao.com`, `bbc.co.uk` for `www.bbc.co.uk`; `None` for a bare suffix.
    pub fn registrable_domain<'h>(&self, host: &'h str) -> Option<&'h str> {
        let bytes = host.as_bytes();
        let domain = match self {
            SuffixList::Builtin => psl::List.domain(bytes)?,
            SuffixList::Custom(list) => list.domain(bytes)?,
        };
        let len = domain.as_bytes().len();
        host.get(host.len() - len..)
    }
}
