//! placeholder: the Discord backend
