use mammolab::prelude::*;
