#ifndef HVREPLAY_CZLIB_SHIM_H
#define HVREPLAY_CZLIB_SHIM_H
#include <zlib.h>
#endif
