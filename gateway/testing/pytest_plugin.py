"""pytest11 entry point of the conformance kit; fixtures arrive with the plugin kit."""
