"""Command handlers of the catalog: each loads, decides and records, nothing more."""

from __future__ import annotations

from typing import Any

from activities.handlers.unit_of_work import UnitOfWork
from domain.catalog import (
    AttachProduct,
    Category,
    CategoryName,
    ClaimName,
    CreateCategory,
    CreateProduct,
    DeleteCategory,
    DeleteProduct,
    DetachProduct,
    Product,
    ReleaseName,
    RenameCategory,
    UpdateProduct,
)


async def create_category(uow: UnitOfWork[Any], command: CreateCategory) -> None:
    claim = ClaimName(name=command.name, category_id=command.category_id)
    await uow.decide(CategoryName, CategoryName.stream_id(command.name), claim)
    await uow.decide(Category, Category.stream_id(command.category_id), command)


async def rename_category(uow: UnitOfWork[Any], command: RenameCategory) -> None:
    category = await uow.load(Category, Category.stream_id(command.category_id))
    if not await uow.decide(Category, Category.stream_id(command.category_id), command):
        return
    if CategoryName.key(category.name) != CategoryName.key(command.name):
        claim = ClaimName(name=command.name, category_id=command.category_id)
        release = ReleaseName(name=category.name, category_id=command.category_id)
        await uow.decide(CategoryName, CategoryName.stream_id(command.name), claim)
        await uow.decide(CategoryName, CategoryName.stream_id(category.name), release)


async def delete_category(uow: UnitOfWork[Any], command: DeleteCategory) -> None:
    category = await uow.load(Category, Category.stream_id(command.category_id))
    await uow.decide(Category, Category.stream_id(command.category_id), command)
    release = ReleaseName(name=category.name, category_id=command.category_id)
    await uow.decide(CategoryName, CategoryName.stream_id(category.name), release)


async def create_product(uow: UnitOfWork[Any], command: CreateProduct) -> None:
    attach = AttachProduct(category_id=command.category_id, product_id=command.product_id)
    await uow.decide(Category, Category.stream_id(command.category_id), attach)
    await uow.decide(Product, Product.stream_id(command.product_id), command)


async def update_product(uow: UnitOfWork[Any], command: UpdateProduct) -> None:
    product = await uow.load(Product, Product.stream_id(command.product_id))
    await uow.decide(Product, Product.stream_id(command.product_id), command)
    moving_to = command.category_id
    if moving_to is not None and moving_to != product.category_id:
        attach = AttachProduct(category_id=moving_to, product_id=command.product_id)
        detach = DetachProduct(category_id=product.category_id, product_id=command.product_id)
        await uow.decide(Category, Category.stream_id(moving_to), attach)
        await uow.decide(Category, Category.stream_id(product.category_id), detach)


async def delete_product(uow: UnitOfWork[Any], command: DeleteProduct) -> None:
    product = await uow.load(Product, Product.stream_id(command.product_id))
    await uow.decide(Product, Product.stream_id(command.product_id), command)
    detach = DetachProduct(category_id=product.category_id, product_id=command.product_id)
    await uow.decide(Category, Category.stream_id(product.category_id), detach)
