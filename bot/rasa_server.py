"""Rasa's own command line (`rasa run ...`), with three speed fixes to Rasa 3.6 applied first. `make run`
starts the Rasa server through it:

    .venv-rasa/bin/python -m bot.rasa_server run --enable-api --model var/models/cbp-assistant.tar.gz ...

1. Checking action answers. Rasa 3.6 checks every answer of the action server with `jsonschema.validate()`,
   which first checks the schema itself (constant, and large: every event type) against the JSON Schema
   meta-schema, then builds a new validator. That was about a quarter of the Rasa server's CPU with 10
   chats at once (py-spy, bench/results/chat-profile.md). Here the schema is checked and compiled once; a
   valid answer is accepted with one validation, and an invalid one still goes through Rasa's own method,
   so it fails exactly as before.
2. Loading the model. To create the variables of DIET and TED before loading the trained weights into
   them, Rasa runs one training step, first compiled into a TensorFlow graph with its gradients: 35 of
   the 44 seconds the model took to load here (py-spy), 17 of them building gradients that are thrown
   away. Here only the loss of that one example is compiled (which creates the same variables), then the
   trained weights are loaded and predictions run as in Rasa, a compiled `tf.function` warmed up once.
   The answers are the same (tests/actions/test_rasa_server.py loads the model both ways).
3. Calling the compiled prediction. Rasa calls the `tf.function` of DIET's and TED's predictions, which
   first checks and casts its inputs against the function's signature: about half of the 2 ms such a call
   cost here, on each of the three to four calls of a turn (py-spy: `cast_inputs_to_signature`,
   `canonicalize_function_inputs`). After Rasa's own first call (which traces the function), the one
   concrete function of that signature is called with the inputs converted to its types: the same graph,
   without the dispatch. The probe of tests/actions/test_rasa_server.py runs with it on the fast way.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import lru_cache
from typing import Any

logger = logging.getLogger(__name__)


def _compiled_validator() -> Any:
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def install() -> Callable[..., bool]:
    """Replace RemoteAction._validate_action_result; returns Rasa's original method. Safe to call twice."""
    from rasa.core.actions.action import RemoteAction

    current = RemoteAction._validate_action_result
    original: Callable[..., bool] = getattr(current, "rasa_original", current)
    validator = lru_cache(maxsize=1)(_compiled_validator)

    def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        if validator().is_valid(result):
            return True
        return original(self, result)  # raises Rasa's own ValidationError, with its message

    _validate_action_result.rasa_original = original  # type: ignore[attr-defined]
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    return original


def install_fast_load() -> Callable[..., Any]:
    """Replace RasaModel.load (fix 2); returns Rasa's original function. Safe to call twice."""
    import tensorflow as tf
    from rasa.utils.tensorflow.constants import LEARNING_RATE, RUN_EAGERLY
    from rasa.utils.tensorflow.data_generator import RasaBatchDataGenerator
    from rasa.utils.tensorflow.models import RasaModel

    current = RasaModel.load.__func__  # type: ignore[attr-defined]
    original: Callable[..., Any] = getattr(current, "rasa_original", current)

    def load(
        cls: type[RasaModel],
        model_file_name: str,
        model_data_example: Any,
        predict_data_example: Any = None,
        finetune_mode: bool = False,
        *args: Any,
        **kwargs: Any,
    ) -> RasaModel:
        if finetune_mode:  # training goes on from these weights: Rasa's own way, optimizer state included
            return original(
                cls, model_file_name, model_data_example, predict_data_example, finetune_mode, *args, **kwargs
            )
        config = kwargs.get("config", {})
        model = cls(*args, **kwargs)
        model.compile(
            optimizer=tf.keras.optimizers.Adam(config.get(LEARNING_RATE, 0.001)), run_eagerly=config.get(RUN_EAGERLY)
        )
        # Every variable of the model is created by tracing the loss of one example into a graph (both sides
        # of each branch, as Rasa's training step does) without building its gradients.
        batch = RasaBatchDataGenerator(model_data_example, batch_size=1)[0]
        model._training = True
        tf.function(model.batch_loss)(batch)
        model._training = False
        status = model.load_weights(model_file_name)
        try:
            status.assert_existing_objects_matched()  # every variable of the model got its trained value
        except AssertionError as exc:
            logger.warning("Loading %s Rasa's own way: %s", cls.__name__, exc)
            return original(
                cls, model_file_name, model_data_example, predict_data_example, finetune_mode, *args, **kwargs
            )
        status.expect_partial()  # the optimizer's state, also in the file, is not needed to predict
        if predict_data_example is not None:
            model.run_inference(predict_data_example)  # traced now, not on the first chat turn (as Rasa does)
        return model

    load.rasa_original = original  # type: ignore[attr-defined]
    RasaModel.load = classmethod(load)  # type: ignore[method-assign, assignment]
    return original


def install_fast_predict() -> Callable[..., Any]:
    """Replace RasaModel._rasa_predict (fix 3); returns Rasa's original method. Safe to call twice."""
    import tensorflow as tf
    from keras.utils import tf_utils
    from rasa.shared.constants import DIAGNOSTIC_DATA
    from rasa.utils.tensorflow.models import RasaModel

    current = RasaModel._rasa_predict
    original: Callable[..., Any] = getattr(current, "rasa_original", current)

    def _rasa_predict(self: RasaModel, batch_in: Any) -> Any:
        compiled = self._tf_predict_step
        if compiled is None or self._run_eagerly or not self.prepared_for_prediction:
            return original(self, batch_in)  # the first call traces the function, Rasa's way
        concrete = getattr(compiled, "cbp_concrete", None)
        if concrete is None:
            concrete = compiled.get_concrete_function()  # the signature is fixed: there is exactly one
            compiled.cbp_concrete = concrete
            compiled.cbp_specs = concrete.structured_input_signature[0][0]
        self._training = False
        _rasa_predict.concrete_calls += 1  # type: ignore[attr-defined]
        inputs = [tf.convert_to_tensor(x, dtype=spec.dtype) for x, spec in zip(batch_in, compiled.cbp_specs)]
        outputs = tf_utils.sync_to_numpy_or_python_type(concrete(inputs))
        if DIAGNOSTIC_DATA in outputs:
            outputs[DIAGNOSTIC_DATA] = self._empty_lists_to_none_in_dict(outputs[DIAGNOSTIC_DATA])
        return outputs

    _rasa_predict.rasa_original = original  # type: ignore[attr-defined]
    _rasa_predict.concrete_calls = 0  # type: ignore[attr-defined]
    RasaModel._rasa_predict = _rasa_predict  # type: ignore[method-assign]
    return original


def main() -> None:
    install()
    install_fast_load()
    install_fast_predict()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
