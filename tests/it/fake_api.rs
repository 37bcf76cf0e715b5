//! Tests of the stand-in API itself.
