//! A document as if some values were written in its file: what `calibrate --fit` solves
//! and runs, since a fitted parameter belongs to the baseline, not to a policy.

use super::{Document, Override, ScenarioError, overrides};

impl<'a> Document<'a> {
    /// The file with `sets` written in: they are part of the reference that the demand
    /// model measures a variant's or an override's landed cost and lead time against, so
    /// that a fitted transit time, say, does not move demand as a policy slowing delivery
    /// would. Dated changes apply on top of them.
    pub fn written_with(&self, sets: &[Override]) -> Result<Document<'a>, ScenarioError> {
        let (mut reference, raw) = self.build(sets)?;
        let mut table = self.table.clone();
        for o in sets {
            overrides::apply(&mut table, &o.path, o.value.clone())
                .expect("build applied the same overrides");
        }
        let as_written = reference.clone();
        reference.apply_demand_model(&as_written);
        reference.epochs = Vec::new();
        let mut document = Document {
            locator: self.locator.again(),
            reference,
            table,
            variants: self.variants.clone(),
            changes: self.changes.clone(),
        };
        if !document.changes.is_empty() {
            let mut reference = document.reference.clone();
            document.add_epochs(&mut reference, &[], &raw.change)?;
            document.reference = reference;
        }
        Ok(document)
    }
}
