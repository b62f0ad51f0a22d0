//! The `Ablation` trait: a named change of the reward set, so sweeps can name ablations in TOML.

use super::registry::registered_rewards;
use crate::error::{Error, Result};

/// A transformation of the reward spec: (reward name, weight) pairs before they are built.
pub trait Ablation: Send + Sync {
    fn apply(&self, rewards: &mut Vec<(String, f32)>) -> Result<()>;
}

/// A registered ablation.
pub struct AblationPlugin {
    pub name: &'static str,
    pub description: &'static str,
    pub build: fn() -> Box<dyn Ablation>,
}

inventory::collect!(AblationPlugin);

/// Keeps every reward: the baseline every ablation is compared with.
struct Full;
impl Ablation for Full {
    fn apply(&self, _: &mut Vec<(String, f32)>) -> Result<()> {
        Ok(())
    }
}

inventory::submit! {
    AblationPlugin { name: "full", description: "all configured rewards (the baseline)", build: || Box::new(Full) }
}

/// Drops one reward. Not registered per reward: `resolve_ablation` derives `no_<name>` for
/// every registered reward, so adding a reward needs no ablation code.
struct WithoutReward(String);
impl Ablation for WithoutReward {
    fn apply(&self, rewards: &mut Vec<(String, f32)>) -> Result<()> {
        let before = rewards.len();
        rewards.retain(|(name, _)| *name != self.0);
        if rewards.len() == before {
            return Err(Error::field(
                "ablation",
                format!(
                    "ablation no_{0} drops reward {0:?}, which this experiment does not use",
                    self.0
                ),
            ));
        }
        Ok(())
    }
}

/// Every ablation name that `resolve_ablation` accepts, with descriptions, sorted.
pub fn ablation_names() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = inventory::iter::<AblationPlugin>
        .into_iter()
        .map(|p| (p.name.to_string(), p.description.to_string()))
        .collect();
    for r in registered_rewards() {
        out.push((
            format!("no_{}", r.name),
            format!("drop the {} reward", r.name),
        ));
    }
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

/// The ablation named `name`: a registered plugin, or `no_<reward>` for a registered reward.
pub fn resolve_ablation(name: &str) -> Result<Box<dyn Ablation>> {
    if let Some(p) = inventory::iter::<AblationPlugin>
        .into_iter()
        .find(|p| p.name == name)
    {
        return Ok((p.build)());
    }
    if let Some(reward) = name.strip_prefix("no_")
        && registered_rewards().iter().any(|r| r.name == reward)
    {
        return Ok(Box::new(WithoutReward(reward.to_string())));
    }
    let names: Vec<String> = ablation_names().into_iter().map(|(n, _)| n).collect();
    Err(Error::field(
        "ablation",
        format!(
            "unknown ablation {name:?}: valid ablations are {}",
            names.join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_keeps_everything_and_unknown_names_list_the_valid_ones() {
        let mut spec = vec![("a".to_string(), 1.0)];
        resolve_ablation("full").unwrap().apply(&mut spec).unwrap();
        assert_eq!(spec.len(), 1);
        let err = resolve_ablation("no_such_thing").err().unwrap().to_string();
        assert!(err.contains("full"), "{err}");
    }
}
