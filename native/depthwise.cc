// Placeholder: kernels of this family are added here and registered in InitDepthwise.
#include <napi.h>
#include "parallel.h"

namespace cm {
void InitDepthwise(Napi::Env env, Napi::Object exports) { (void)env; (void)exports; }
}  // namespace cm
