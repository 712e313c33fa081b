//! placeholder: the Matrix backend
