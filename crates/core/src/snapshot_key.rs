//! placeholder: the RocksDB key layout of OpenMLDB disk tables (KeyTSComparator).
