import { defineRegistryModelTests } from './_registry-cases.js';

defineRegistryModelTests(2, 3);
