//! A file's language, guessed from its name: enough for "what was I editing" questions.

use std::path::Path;

/// Extension (lower case) → language.
const BY_EXTENSION: &[(&str, &str)] = &[
    ("rs", "Rust"),
    ("py", "Python"),
    ("pyi", "Python"),
    ("js", "JavaScript"),
    ("mjs", "JavaScript"),
    ("cjs", "JavaScript"),
    ("jsx", "JavaScript"),
    ("ts", "TypeScript"),
    ("tsx", "TypeScript"),
    ("go", "Go"),
    ("java", "Java"),
    ("kt", "Kotlin"),
    ("kts", "Kotlin"),
    ("scala", "Scala"),
    ("c", "C"),
    ("h", "C"),
    ("cc", "C++"),
    ("cpp", "C++"),
    ("cxx", "C++"),
    ("hpp", "C++"),
    ("hh", "C++"),
    ("cs", "C#"),
    ("fs", "F#"),
    ("swift", "Swift"),
    ("m", "Objective-C"),
    ("rb", "Ruby"),
    ("php", "PHP"),
    ("pl", "Perl"),
    ("lua", "Lua"),
    ("r", "R"),
    ("jl", "Julia"),
    ("hs", "Haskell"),
    ("ml", "OCaml"),
    ("ex", "Elixir"),
    ("exs", "Elixir"),
    ("erl", "Erlang"),
    ("clj", "Clojure"),
    ("dart", "Dart"),
    ("zig", "Zig"),
    ("sh", "Shell"),
    ("bash", "Shell"),
    ("zsh", "Shell"),
    ("fish", "Shell"),
    ("ps1", "PowerShell"),
    ("sql", "SQL"),
    ("html", "HTML"),
    ("htm", "HTML"),
    ("css", "CSS"),
    ("scss", "SCSS"),
    ("vue", "Vue"),
    ("svelte", "Svelte"),
    ("md", "Markdown"),
    ("markdown", "Markdown"),
    ("rst", "reStructuredText"),
    ("tex", "TeX"),
    ("json", "JSON"),
    ("jsonl", "JSON"),
    ("toml", "TOML"),
    ("yaml", "YAML"),
    ("yml", "YAML"),
    ("xml", "XML"),
    ("csv", "CSV"),
    ("proto", "Protocol Buffers"),
    ("tf", "HCL"),
    ("nix", "Nix"),
    ("txt", "Text"),
];

/// File name → language, for files known by name rather than extension.
const BY_NAME: &[(&str, &str)] = &[
    ("Makefile", "Makefile"),
    ("GNUmakefile", "Makefile"),
    ("Dockerfile", "Dockerfile"),
    ("CMakeLists.txt", "CMake"),
    ("Cargo.lock", "TOML"),
    ("Gemfile", "Ruby"),
    ("Rakefile", "Ruby"),
    ("Justfile", "Just"),
];

/// The language of `path`, if its name says.
pub(crate) fn guess(path: &Path) -> Option<&'static str> {
    let name = path.file_name()?.to_str()?;
    if let Some((_, lang)) = BY_NAME.iter().find(|(n, _)| *n == name) {
        return Some(lang);
    }
    let ext = path.extension()?.to_str()?;
    BY_EXTENSION
        .iter()
        .find(|(e, _)| e.eq_ignore_ascii_case(ext))
        .map(|(_, lang)| *lang)
}

#[cfg(test)]
mod tests {
    use super::guess;
    use std::path::Path;

    #[test]
    fn by_extension_and_by_name() {
        assert_eq!(guess(Path::new("src/main.rs")), Some("Rust"));
        assert_eq!(guess(Path::new("a/B.PY")), Some("Python"));
        assert_eq!(guess(Path::new("Makefile")), Some("Makefile"));
        assert_eq!(guess(Path::new("x/CMakeLists.txt")), Some("CMake"));
        assert_eq!(guess(Path::new("notes.txt")), Some("Text"));
        assert_eq!(guess(Path::new("image.png")), None);
        assert_eq!(guess(Path::new("README")), None);
    }
}
