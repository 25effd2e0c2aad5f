//! A `Document`'s uncertain parameters (`[[uncertain]]`): the overrides that put them
//! at a design's coordinates, the scenario built with them, and the check of their
//! extremes that comes before anything runs.

use std::path::Path;

use super::{Document, Loaded, Override, Problem, Problems, ScenarioError, read_text, sha256_hex};
use crate::model::Scenario;

/// Calls `f` with `file` parsed as a `Document`, checking that the file still has the
/// bytes `sha256` names (what was loaded before is what each draw is built from).
pub fn with_document<T, E: From<ScenarioError>>(
    file: &Path,
    sha256: &str,
    f: impl FnOnce(&Document) -> Result<T, E>,
) -> Result<T, E> {
    let text = read_text(file)?;
    let name = file.display().to_string();
    if sha256_hex(text.as_bytes()) != sha256 {
        return Err(ScenarioError::Invalid(vec![Problem {
            path: String::new(),
            message: "the file changed while tradesim was reading it; run the command again"
                .to_string(),
            location: name,
        }])
        .into());
    }
    f(&Document::parse(&text, &name)?)
}

impl Document<'_> {
    /// The file's uncertain parameters (`[[uncertain]]`, as written: overrides do not
    /// change them).
    pub fn uncertain(&self) -> &[crate::model::uncertain::Uncertain] {
        &self.reference.uncertain
    }

    /// The overrides that put each uncertain parameter at its coordinate in `coords`,
    /// leaving out a parameter that `variant` or `sets` set: a policy or a fixed value
    /// wins over an assumption drawn.
    pub fn draws(&self, variant: Option<&str>, sets: &[Override], coords: &[f64]) -> Vec<Override> {
        let variant_paths: Vec<&str> = variant
            .and_then(|name| self.variants.iter().find(|v| v.name == name))
            .map(|v| v.set.keys().map(String::as_str).collect())
            .unwrap_or_default();
        self.reference
            .uncertain
            .iter()
            .zip(coords)
            .filter(|(p, _)| {
                !variant_paths.iter().any(|path| p.is_set_by(path))
                    && !sets.iter().any(|s| p.is_set_by(&s.path))
            })
            .map(|(p, &u)| {
                let text = p.text_at(u);
                let value = toml::from_str::<toml::Table>(&format!("v = {text}"))
                    .ok()
                    .and_then(|mut t| t.remove("v"))
                    .expect("an uncertain value is TOML");
                Override {
                    path: p.path.clone(),
                    value,
                    origin: format!("uncertain \"{}\" = {text}", p.name),
                }
            })
            .collect()
    }

    /// The scenario of `variant` with `sets`, its uncertain parameters at `coords`
    /// (`draws`, applied first), as a `Loaded` of `file` (whose text has `sha256`) that
    /// records the draws, so a manifest reproduces it.
    pub fn loaded_at(
        &self,
        file: &Path,
        sha256: &str,
        variant: Option<&str>,
        sets: &[Override],
        coords: &[f64],
    ) -> Result<Loaded, ScenarioError> {
        let drawn = self.draws(variant, sets, coords);
        Ok(Loaded {
            scenario: self.scenario_drawn(&drawn, variant, sets)?,
            file: file.to_path_buf(),
            sha256: sha256.to_string(),
            variant: variant.map(str::to_string),
            overrides: sets.to_vec(),
            drawn,
        })
    }

    /// Checks that each uncertain parameter, at each of its extremes (the others at their
    /// middle), gives a valid scenario for every one of `variants` with `sets`; `check`
    /// adds a caller's own test of the scenario (its cost, say). Nothing runs before this.
    pub fn check_uncertain(
        &self,
        variants: &[Option<&str>],
        sets: &[Override],
        check: &dyn Fn(&Scenario) -> Result<(), String>,
    ) -> Result<(), ScenarioError> {
        let params = &self.reference.uncertain;
        for (i, p) in params.iter().enumerate() {
            for u in p.extremes() {
                let mut coords = vec![0.5; params.len()];
                coords[i] = u;
                let at = format!("uncertain \"{}\" = {}", p.name, p.text_at(u));
                for &variant in variants {
                    let draws = self.draws(variant, sets, &coords);
                    let scenario =
                        self.scenario_drawn(&draws, variant, sets)
                            .map_err(|e| match e {
                                ScenarioError::Invalid(mut problems) => {
                                    for problem in &mut problems {
                                        problem.message += &format!(" (with {at})");
                                    }
                                    ScenarioError::Invalid(problems)
                                }
                                other => other,
                            })?;
                    check(&scenario).map_err(|message| {
                        let mut problems = Problems::default();
                        problems.add(&format!("uncertain[{i}]"), format!("{message} (with {at})"));
                        self.locator.located(problems, &[])
                    })?;
                }
            }
        }
        Ok(())
    }
}

/// Builds a scenario per replication or design point from one `Document` on many
/// threads: it must stay shareable.
const _: fn() = || {
    fn shareable<T: Sync + Send>() {}
    shareable::<Document<'static>>();
};
