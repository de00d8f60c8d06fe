//! The parameters of one trial, whichever kind of trial it is: the built-in model's typed
//! [`TrainParams`], or a user program's free-form [`ProgramParams`].

use serde::{Serialize, Serializer};
use serde_json::Value;

use super::params::{ParamError, TrainParams, PARAM_KEYS};
use super::program::ProgramParams;

/// A trial's parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Params {
    /// The built-in character model's.
    Model(TrainParams),
    /// A user program's.
    Program(ProgramParams),
}

impl Serialize for Params {
    /// Serializes as the inner parameters, so a model trial's `config.json` is unchanged.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Params::Model(p) => p.serialize(serializer),
            Params::Program(p) => p.serialize(serializer),
        }
    }
}

impl Params {
    /// Assigns `value` to the parameter `key`, checking it.
    pub fn set(&mut self, key: &str, value: &Value) -> Result<(), ParamError> {
        match self {
            Params::Model(p) => p.set(key, value),
            Params::Program(p) => p.set(key, value),
        }
    }

    /// A view to read them through.
    pub fn as_ref(&self) -> ParamsRef<'_> {
        match self {
            Params::Model(p) => ParamsRef::Model(p),
            Params::Program(p) => ParamsRef::Program(p),
        }
    }

    /// The value of the parameter `key` as JSON.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.as_ref().get(key)
    }

    /// The parameter names, in the order reports list them.
    pub fn keys(&self) -> Vec<String> {
        self.as_ref().keys()
    }

    /// Steps to train.
    pub fn steps(&self) -> usize {
        self.as_ref().steps()
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.as_ref().seed()
    }

    /// The built-in model's parameters; `None` for a program's.
    pub fn model(&self) -> Option<&TrainParams> {
        self.as_ref().model()
    }
}

/// A trial's parameters, borrowed (see [`crate::spec::TrialConfig::params`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParamsRef<'a> {
    /// The built-in character model's.
    Model(&'a TrainParams),
    /// A user program's.
    Program(&'a ProgramParams),
}

impl<'a> ParamsRef<'a> {
    /// The value of the parameter `key` as JSON.
    pub fn get(self, key: &str) -> Option<Value> {
        match self {
            ParamsRef::Model(p) => p.get(key),
            ParamsRef::Program(p) => p.get(key),
        }
    }

    /// The parameter names, in the order reports list them.
    pub fn keys(self) -> Vec<String> {
        match self {
            ParamsRef::Model(_) => PARAM_KEYS.iter().map(|k| k.to_string()).collect(),
            ParamsRef::Program(p) => p.keys().map(str::to_string).collect(),
        }
    }

    /// Steps to train.
    pub fn steps(self) -> usize {
        match self {
            ParamsRef::Model(p) => p.steps,
            ParamsRef::Program(p) => p.steps(),
        }
    }

    /// The seed.
    pub fn seed(self) -> u64 {
        match self {
            ParamsRef::Model(p) => p.seed,
            ParamsRef::Program(p) => p.seed(),
        }
    }

    /// Why `key` has no effect with these values (the built-in model's `dropout` with one
    /// layer); `None` when it has, or when sweep cannot know (programs).
    pub fn no_effect(self, key: &str) -> Option<&'static str> {
        self.model().and_then(|p| p.no_effect(key))
    }

    /// The built-in model's parameters; `None` for a program trial.
    pub fn model(self) -> Option<&'a TrainParams> {
        match self {
            ParamsRef::Model(p) => Some(p),
            ParamsRef::Program(_) => None,
        }
    }

    /// A program trial's parameters; `None` for a model trial.
    pub fn program(self) -> Option<&'a ProgramParams> {
        match self {
            ParamsRef::Model(_) => None,
            ParamsRef::Program(p) => Some(p),
        }
    }
}
