#ifndef DPONE_CODBC_SHIM_H
#define DPONE_CODBC_SHIM_H
#include <sql.h>
#include <sqlext.h>
#include <odbcinst.h>
#endif
