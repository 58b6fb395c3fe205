//! `NonEmpty<T>`: a list the grammar requires to have at least one element (`1*item`).

use std::ops::Deref;

use crate::error::ValidationError;

/// A vector with at least one element.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NonEmpty<T>(Vec<T>);

impl<T> NonEmpty<T> {
    /// A list of one element.
    pub fn one(item: T) -> Self {
        Self(vec![item])
    }

    /// Validates that `items` is not empty.
    pub fn try_new(items: Vec<T>) -> Result<Self, ValidationError> {
        if items.is_empty() {
            Err(ValidationError::new(
                "list",
                "must have at least one element",
            ))
        } else {
            Ok(Self(items))
        }
    }

    /// Converts every element.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> NonEmpty<U> {
        NonEmpty(self.0.into_iter().map(f).collect())
    }

    /// The elements as a vector.
    pub fn into_vec(self) -> Vec<T> {
        self.0
    }

    pub(crate) fn from_parsed(items: Vec<T>) -> Self {
        Self(items)
    }
}

impl<T> Deref for NonEmpty<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T> TryFrom<Vec<T>> for NonEmpty<T> {
    type Error = ValidationError;
    fn try_from(items: Vec<T>) -> Result<Self, ValidationError> {
        Self::try_new(items)
    }
}

impl<'a, T> IntoIterator for &'a NonEmpty<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}
