//! Sans-I/O parser for tegrastats lines (work in progress).
