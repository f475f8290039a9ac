// Placeholder: kernels of this family are added here and registered in InitElementwise.
#include <napi.h>
#include "parallel.h"

namespace cm {
void InitElementwise(Napi::Env env, Napi::Object exports) { (void)env; (void)exports; }
}  // namespace cm
