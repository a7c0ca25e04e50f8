//! A restore killed with SIGKILL at each destructive phase, then recovered by the next run.
